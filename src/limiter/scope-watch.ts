import type { Config } from '../config';
import { errorName, logWarn } from '../log';
import { bucketOf, type StepUpPolicy } from './conversion-window';
import type { ReportInput } from './scope-ledger';

/**
 * This isolate's view of the scopes' step-up, and its counts not yet reported. Sends, refusals
 * and verifications are counted locally; every `refreshSeconds` one background call (the
 * request's waitUntil) hands them to the `ScopeLedger` and reads back which scopes are stepped
 * up, so no request waits on it but an isolate's first. Staleness: a state is at most
 * `refreshSeconds` plus one call old while the isolate has traffic, and a count reaches the
 * ledger within `refreshSeconds` of the isolate's next request after it.
 */

type Kind = 'sends' | 'verified' | 'refused' | 'solved';
type Report = (input: ReportInput) => Promise<{ steppedUp: string[] }>;

export class ScopeWatch {
  private pending = new Map<string, { scope: string; bucket: number; sends: number; verified: number; refused: number; solved: number }>();
  private steppedUp = new Set<string>();
  private fetchedAt: number | null = null;
  private inflight: Promise<void> | null = null;

  constructor(private readonly clock: () => number = Date.now) {}

  /** Counts one event in each scope; `at` is when its send was admitted (a verification counts with its send). */
  note(kind: Kind, scopes: readonly string[], at: number, windowSeconds: number): void {
    const bucket = bucketOf(at, windowSeconds);
    for (const scope of scopes) {
      const key = `${scope} ${bucket}`;
      const counts = this.pending.get(key) ?? { scope, bucket, sends: 0, verified: 0, refused: 0, solved: 0 };
      counts[kind] += 1;
      this.pending.set(key, counts);
    }
  }

  /**
   * The first of `scopes` that is stepped up, or null. A cold isolate waits for its first answer
   * (otherwise a spread attack over fresh isolates would never meet a step-up); later the state is
   * refreshed in the background once it is `refreshMs` old.
   */
  async steppedUpScope(
    scopes: readonly string[],
    report: Report,
    policy: StepUpPolicy,
    refreshMs: number,
    background?: (work: Promise<unknown>) => void,
  ): Promise<string | null> {
    if (this.fetchedAt === null) await this.refresh(report, policy);
    else this.refreshIfDue(report, policy, refreshMs, background);
    return scopes.find((scope) => this.steppedUp.has(scope)) ?? null;
  }

  /** Reports the counts when due (the verify path, which reads no state). */
  refreshIfDue(report: Report, policy: StepUpPolicy, refreshMs: number, background?: (work: Promise<unknown>) => void): void {
    if (!background || this.inflight) return;
    if (this.fetchedAt !== null && this.clock() - this.fetchedAt < refreshMs) return;
    background(this.refresh(report, policy));
  }

  /** An operator's override, known to this isolate at once (others learn it at their next refresh). */
  apply(scope: string, steppedUp: boolean): void {
    if (steppedUp) this.steppedUp.add(scope);
    else this.steppedUp.delete(scope);
  }

  private refresh(report: Report, policy: StepUpPolicy): Promise<void> {
    if (this.inflight) return this.inflight;
    const batch = this.pending;
    this.pending = new Map();
    this.inflight = report({ now: this.clock(), policy, counts: [...batch.values()] })
      .then((answer) => {
        this.steppedUp = new Set(answer.steppedUp);
      })
      .catch((error) => {
        // Counts are kept for the next report; the last known states stand (the other defences hold meanwhile).
        for (const [key, counts] of batch) {
          const merged = this.pending.get(key);
          if (merged) for (const kind of ['sends', 'verified', 'refused', 'solved'] as const) merged[kind] += counts[kind];
          else this.pending.set(key, counts);
        }
        logWarn('scope.report_failed', { error: errorName(error) });
      })
      .finally(() => {
        this.fetchedAt = this.clock();
        this.inflight = null;
      });
    return this.inflight;
  }
}

const watch = new ScopeWatch();

/** This isolate's one watch, reporting to the deployment's one ledger object. */
export function scopeWatch(): ScopeWatch {
  return watch;
}

export function scopeLedgerFor(env: Env) {
  return env.SCOPE_LEDGER.get(env.SCOPE_LEDGER.idFromName('scope-ledger'));
}

export const stepUpPolicyOf = (config: Config): StepUpPolicy => {
  const { windowSeconds, graceSeconds, minSends, enterConversion, exitConversion } = config.stepUp;
  return { windowSeconds, graceSeconds, minSends, enterConversion, exitConversion };
};

export const reportTo =
  (env: Env): Report =>
  (input) =>
    scopeLedgerFor(env).report(input);
