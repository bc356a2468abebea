import type { Config } from '../config';
import type { AlertRule } from '../db/alert-incidents';
import { signalLastAt } from '../db/alert-signals';
import { activeAutomaticBlocks, circuitsNotClosed, deadLettersSince, providerCallCounts } from '../db/alert-sources';

/** One scope for which a rule's condition holds now, with what it measured. */
export interface Finding {
  /** A provider, a prefix, or '' for the whole service. */
  scope: string;
  /** One line for people: the receiver's and the dashboard's text. */
  summary: string;
  detail: Record<string, string | number | null>;
}

/** Where the provider circuits are read from: the D1 one reads the circuit changes the ProviderHealth objects record in provider_events. */
export interface CircuitSource {
  notClosed(): Promise<Array<{ provider: string; state: string; since: number }>>;
}

export const d1CircuitSource = (db: D1Database): CircuitSource => ({ notClosed: () => circuitsNotClosed(db) });

/** A conversion scope whose signal says step up (see limiter/scope-ledger.ts), whatever an operator's override applies. */
export interface SteppedUpScope {
  scope: string;
  since: number | null;
  conversion: number | null;
  settledSends: number;
  settledVerified: number;
  refused: number;
  /** What applies now: `normal` when an operator forced the scope open despite its signal. */
  mode: string;
}

/** Where the conversion scopes' step-up is read from: by default the ScopeLedger object (run-alerts.ts). */
export interface StepUpSource {
  steppedUp(): Promise<SteppedUpScope[]>;
}

export interface RuleContext {
  db: D1Database;
  config: Config;
  now: number;
  circuits: CircuitSource;
  stepUps: StepUpSource;
}

const iso = (at: number) => new Date(at).toISOString();
const percent = (ratio: number) => `${Math.round(ratio * 1000) / 10}%`;

/**
 * Each rule answers the scopes its condition holds for now; an incident opens for a scope that
 * starts to hold and clears when it no longer does (evaluate.ts). Every read is of D1 tables the
 * service writes anyway.
 */
export const RULES: Record<AlertRule, (context: RuleContext) => Promise<Finding[]>> = {
  async delivery_success({ db, config, now }) {
    const { successThreshold, successWindowSeconds, successMinCalls } = config.alerts;
    const counts = await providerCallCounts(db, now - successWindowSeconds * 1000);
    return counts
      .filter(({ calls, sent }) => calls >= successMinCalls && sent / calls < successThreshold)
      .map(({ provider, calls, sent }) => ({
        scope: provider,
        summary: `${provider}: ${percent(sent / calls)} of ${calls} provider calls sent an SMS in the last ${successWindowSeconds} s (threshold ${percent(successThreshold)})`,
        detail: {
          provider,
          calls,
          sent,
          successRate: Math.round((sent / calls) * 1000) / 1000,
          threshold: successThreshold,
          windowSeconds: successWindowSeconds,
        },
      }));
  },

  async circuit_open({ circuits }) {
    return (await circuits.notClosed()).map(({ provider, state, since }) => ({
      scope: provider,
      summary: `${provider}: circuit ${state} since ${iso(since)}`,
      detail: { provider, state, since: iso(since) },
    }));
  },

  async prefix_auto_blocked({ db, now }) {
    return (await activeAutomaticBlocks(db, now)).map(({ prefix, reason, blockedAt, until }) => ({
      scope: prefix,
      summary: `${prefix} blocked automatically (${reason}) until ${iso(until)}`,
      detail: { prefix, reason, blockedAt: iso(blockedAt), until: iso(until) },
    }));
  },

  async global_budget_spent({ db, config, now }) {
    const windowSeconds = config.alerts.budgetWindowSeconds;
    const lastAt = await signalLastAt(db, 'global_budget_exhausted');
    if (lastAt === null || lastAt < now - windowSeconds * 1000) return [];
    return [
      {
        scope: '',
        summary: `the global send budget (GLOBAL_SEND_LIMIT) refused sends, last at ${iso(lastAt)}`,
        detail: { lastRefusedAt: iso(lastAt), windowSeconds },
      },
    ];
  },

  async conversion_step_up({ stepUps }) {
    return (await stepUps.steppedUp()).map(({ scope, since, conversion, settledSends, settledVerified, refused, mode }) => ({
      scope,
      summary:
        `${scope}: stepped up, ${conversion === null ? 'no' : percent(conversion)} of ${settledSends} settled sends verified` +
        `${since === null ? '' : ` (since ${iso(since)})`}${mode === 'normal' ? '; an operator keeps it open' : ''}`,
      detail: { scope, conversion, settledSends, settledVerified, refused, since: since === null ? null : iso(since), mode },
    }));
  },

  async dead_letters({ db, config, now }) {
    const windowSeconds = config.alerts.deadLetterWindowSeconds;
    const byReason = await deadLettersSince(db, now - windowSeconds * 1000);
    if (byReason.length === 0) return [];
    const count = byReason.reduce((sum, row) => sum + row.count, 0);
    const reasons = byReason.map((row) => `${row.reason} ${row.count}`).join(', ');
    return [
      {
        scope: '',
        summary: `${count} dead letter(s) in the last ${windowSeconds} s (${reasons})`,
        detail: { count, windowSeconds, reasons, lastAt: iso(Math.max(...byReason.map((row) => row.lastAt))) },
      },
    ];
  },
};
