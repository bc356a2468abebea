import { z } from 'zod';

/**
 * One provider's circuit, judged from its recent outcomes, on its own so that any clock can drive
 * it. Closed: calls go through. It opens once the sliding window holds at least `minFailures`
 * transient failures and they are at least `failureRate` of its calls: the router then sends
 * requests elsewhere. After `coolDownMs` it is half-open: one probe call may go through (handed
 * to one caller at a time, for `PROBE_LEASE_MS`); a success closes it, a failure opens it again.
 * Permanent errors (an invalid number) say nothing about the provider and are not counted.
 */

export const CIRCUIT_STATES = ['closed', 'open', 'half_open'] as const;
export type CircuitState = (typeof CIRCUIT_STATES)[number];

export interface CircuitSettings {
  windowMs: number;
  minFailures: number;
  failureRate: number;
  coolDownMs: number;
}

/** A probe handed out and never reported (its caller died) is handed out again after this. */
export const PROBE_LEASE_MS = 30_000;
/** Outcomes kept at most, however busy the window. */
const MAX_OUTCOMES = 2000;

export const CallOutcome = z.object({ at: z.number(), ok: z.boolean(), latencyMs: z.number().min(0) });
export type CallOutcome = z.infer<typeof CallOutcome>;

export const CircuitSnapshot = z.object({
  state: z.enum(CIRCUIT_STATES),
  since: z.number(),
  probeUntil: z.number().nullable(),
  outcomes: z.array(CallOutcome),
});
export type CircuitSnapshot = z.infer<typeof CircuitSnapshot>;

export interface Transition {
  from: CircuitState;
  to: CircuitState;
  at: number;
  reason: string;
}

export class Circuit {
  private snapshot: CircuitSnapshot;

  constructor(
    private readonly settings: CircuitSettings,
    restored?: CircuitSnapshot,
  ) {
    this.snapshot = restored ?? { state: 'closed', since: 0, probeUntil: null, outcomes: [] };
  }

  toJSON(): CircuitSnapshot {
    return this.snapshot;
  }

  /** The state at `now`: an open circuit whose cool-down has passed turns half-open here. */
  advance(now: number): Transition | null {
    const { state, since } = this.snapshot;
    if (state === 'open' && now >= since + this.settings.coolDownMs) return this.move('half_open', now, 'cool-down over: one probe may go through');
    return null;
  }

  get state(): CircuitState {
    return this.snapshot.state;
  }

  get since(): number {
    return this.snapshot.since;
  }

  /** Whether this caller may make the half-open circuit's one probe call. */
  claimProbe(now: number): boolean {
    if (this.snapshot.state !== 'half_open') return false;
    if (this.snapshot.probeUntil !== null && this.snapshot.probeUntil > now) return false;
    this.snapshot.probeUntil = now + PROBE_LEASE_MS;
    return true;
  }

  /** Counts one call's outcome; answers the transition it caused, if any. */
  record(outcome: CallOutcome, now: number): Transition | null {
    this.snapshot.outcomes.push(outcome);
    this.prune(now);
    switch (this.snapshot.state) {
      case 'half_open':
        if (outcome.ok) return this.move('closed', now, 'the probe succeeded');
        return this.move('open', now, 'the probe failed');
      case 'closed': {
        const { calls, failures } = this.recent(now);
        if (failures >= this.settings.minFailures && failures / calls >= this.settings.failureRate) {
          return this.move('open', now, `${failures} of ${calls} calls failed within ${Math.round(this.settings.windowMs / 1000)} s`);
        }
        return null;
      }
      case 'open':
        // Late answers of calls started before it opened: counted, but only the cool-down reopens it.
        return null;
    }
  }

  /** The window's calls, failures and median latency, as the dashboard shows them. */
  recent(now: number): { calls: number; failures: number; medianLatencyMs: number | null } {
    const inWindow = this.snapshot.outcomes.filter((outcome) => outcome.at > now - this.settings.windowMs);
    const latencies = inWindow.map((outcome) => outcome.latencyMs).sort((a, b) => a - b);
    return {
      calls: inWindow.length,
      failures: inWindow.filter((outcome) => !outcome.ok).length,
      medianLatencyMs: latencies.length ? latencies[Math.floor((latencies.length - 1) / 2)]! : null,
    };
  }

  private prune(now: number): void {
    const outcomes = this.snapshot.outcomes.filter((outcome) => outcome.at > now - this.settings.windowMs);
    this.snapshot.outcomes = outcomes.slice(-MAX_OUTCOMES);
  }

  private move(to: CircuitState, now: number, reason: string): Transition {
    const from = this.snapshot.state;
    // A closed circuit starts judging afresh: failures from before it opened no longer count.
    this.snapshot = { state: to, since: now, probeUntil: null, outcomes: to === 'closed' ? [] : this.snapshot.outcomes };
    return { from, to, at: now, reason };
  }
}
