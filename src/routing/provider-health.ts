import { DurableObject } from 'cloudflare:workers';
import { z } from 'zod';
import { providerEventStatement } from '../db/provider-events';
import { errorName, logError, logWarn } from '../log';
import { CallOutcome, CIRCUIT_STATES, Circuit, type CircuitSettings, CircuitSnapshot, type CircuitState, type Transition } from './circuit';

/**
 * The shared health view of one provider (one object per provider name): its recent outcomes, their
 * latency and its circuit (see `circuit.ts`). Consumers ask it once per batch before routing and
 * report the batch's outcomes after; every circuit change is written to D1 (`provider_events`) for
 * the dashboard. Off the request path, like the pacer: two calls per batch and provider.
 */

const Settings = z.object({
  windowMs: z.number().int().min(1000),
  minFailures: z.number().int().min(1),
  failureRate: z.number().min(0).max(1),
  coolDownMs: z.number().int().min(0),
});

export const HealthQuery = z.object({
  provider: z.string().min(1).max(40),
  settings: Settings,
  /** Whether the caller would make the half-open circuit's probe call; at most one caller gets it. */
  wantProbe: z.boolean().default(false),
});
export type HealthQuery = z.input<typeof HealthQuery>;

export const HealthReport = HealthQuery.extend({ outcomes: z.array(CallOutcome).max(1000) });
export type HealthReport = z.input<typeof HealthReport>;

export const HealthView = z.object({
  provider: z.string(),
  state: z.enum(CIRCUIT_STATES),
  since: z.number(),
  /** This caller may make the probe call of a half-open circuit. */
  probe: z.boolean(),
  calls: z.number(),
  failures: z.number(),
  medianLatencyMs: z.number().nullable(),
});
export type HealthView = z.infer<typeof HealthView>;

const STORAGE_KEY = 'circuit';

export class ProviderHealth extends DurableObject<Env> {
  private circuit: CircuitSnapshot | undefined;
  /** The object's clock; tests set their own. */
  protected clock: () => number = () => Date.now();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      const stored = CircuitSnapshot.safeParse(await ctx.storage.get(STORAGE_KEY));
      if (stored.success) this.circuit = stored.data;
    });
  }

  async view(input: HealthQuery): Promise<HealthView> {
    const query = HealthQuery.parse(input);
    return this.change(query.provider, query.settings, (circuit, now) => {
      const transition = circuit.advance(now);
      const probe = query.wantProbe && circuit.claimProbe(now);
      return { transitions: transition ? [transition] : [], probe };
    });
  }

  async report(input: HealthReport): Promise<HealthView> {
    const query = HealthReport.parse(input);
    return this.change(query.provider, query.settings, (circuit, now) => {
      const transitions: Transition[] = [];
      const opened = circuit.advance(now);
      if (opened) transitions.push(opened);
      for (const outcome of query.outcomes) {
        const transition = circuit.record(outcome, now);
        if (transition) transitions.push(transition);
      }
      return { transitions, probe: false };
    });
  }

  private async change(
    provider: string,
    settings: CircuitSettings,
    apply: (circuit: Circuit, now: number) => { transitions: Transition[]; probe: boolean },
  ): Promise<HealthView> {
    const now = this.clock();
    const circuit = new Circuit(settings, this.circuit);
    const before = JSON.stringify(this.circuit ?? null);
    const { transitions, probe } = apply(circuit, now);
    this.circuit = circuit.toJSON();
    if (JSON.stringify(this.circuit) !== before) await this.ctx.storage.put(STORAGE_KEY, this.circuit);
    if (transitions.length > 0) await this.recordTransitions(provider, transitions);
    return { provider, state: circuit.state, since: circuit.since, probe, ...circuit.recent(now) };
  }

  /** Written to D1 for the dashboard; a failed write costs only that history, never the routing. */
  private async recordTransitions(provider: string, transitions: Transition[]): Promise<void> {
    for (const transition of transitions) logWarn('provider.circuit', { provider, from: transition.from, to: transition.to, reason: transition.reason });
    try {
      await this.env.DB.batch(
        transitions.map((transition) =>
          providerEventStatement(this.env.DB, {
            provider,
            at: transition.at,
            kind: 'circuit',
            fromState: transition.from,
            toState: transition.to,
            detail: transition.reason,
          }),
        ),
      );
    } catch (error) {
      logError('provider.circuit_record_failed', { provider, error: errorName(error) });
    }
  }
}

export type { CircuitState };
