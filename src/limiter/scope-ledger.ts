import { DurableObject } from 'cloudflare:workers';
import { z } from 'zod';
import { logError, logInfo, logWarn } from '../log';
import { type BucketCounts, bucketMs, conversionOf, judgeScope, StepUpPolicy, type WindowTotals, windowTotals } from './conversion-window';
import { type ScopeBucketCounts, UnsavedCounts } from './unsaved-counts';

/**
 * The conversion of the scopes beyond the prefix (countries, apps, the deployment) and whether
 * each is stepped up. Isolates do not call it per request: each reports its counts in one batch
 * every few seconds and reads back the stepped-up scopes (scope-watch.ts). Counters per scope
 * and bucket, so a window costs 60 rows a scope however busy it is; a verification is counted in
 * the bucket of its send. Reports are summed in memory and written once every SAVE_EVERY_MS (an
 * alarm), so the rows written follow the scopes, not the isolates or the traffic. Operators'
 * overrides and the scopes' states are written at once.
 */

export const ScopeMode = z.enum(['normal', 'stepped_up']);
export type ScopeMode = z.infer<typeof ScopeMode>;

const CountsRow = z.object({
  scope: z.string().min(1).max(80),
  bucket: z.number().int(),
  sends: z.number().int().min(0),
  verified: z.number().int().min(0),
  refused: z.number().int().min(0),
  solved: z.number().int().min(0).default(0),
});

export const ReportInput = z.object({
  /** The reporting isolate's clock: the window is judged at this moment. */
  now: z.number().int(),
  policy: StepUpPolicy,
  counts: z.array(CountsRow).max(10_000),
});
export type ReportInput = z.input<typeof ReportInput>;

const OverrideInput = z.object({
  scope: z.string().min(1).max(80),
  /** null: the signal decides again. */
  mode: ScopeMode.nullable(),
  note: z.string().max(200).nullable(),
  now: z.number().int(),
});
export type OverrideInput = z.input<typeof OverrideInput>;

export interface ScopeView extends WindowTotals {
  scope: string;
  /** What applies: the operator's override when there is one, else the signal's. */
  mode: ScopeMode;
  /** What the conversion signal alone says. */
  signal: ScopeMode;
  /** When the signal last changed its mind (null: never stepped up). */
  since: number | null;
  conversion: number | null;
  override: { mode: ScopeMode; note: string | null; at: number } | null;
}

interface StateRow extends Record<string, SqlStorageValue> {
  scope: string;
  stepped_up: number;
  since: number | null;
  override: string | null;
  override_note: string | null;
  override_at: number | null;
}

/** A judgement is reused for this long: reports arrive from every isolate every few seconds. */
const JUDGE_EVERY_MS = 1000;

/**
 * How often reported counts are written. An unplanned restart forgets at most this much of a
 * five-minute window (sends and verifications alike, so conversion barely moves).
 */
export const SAVE_EVERY_MS = 60_000;

export class ScopeLedger extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private judgedAt = Number.NEGATIVE_INFINITY;
  private steppedUp: string[] = [];
  private prunedAt = Number.NEGATIVE_INFINITY;
  private readonly unsaved = new UnsavedCounts();
  private saveScheduled = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS counts (scope TEXT NOT NULL, bucket INTEGER NOT NULL,
      sends INTEGER NOT NULL DEFAULT 0, verified INTEGER NOT NULL DEFAULT 0, refused INTEGER NOT NULL DEFAULT 0,
      solved INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (scope, bucket)) WITHOUT ROWID`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS scopes (scope TEXT PRIMARY KEY, stepped_up INTEGER NOT NULL DEFAULT 0, since INTEGER,
      override TEXT, override_note TEXT, override_at INTEGER)`);
  }

  /** Adds an isolate's counts and answers the scopes stepped up now (by the signal or an operator). */
  async report(input: ReportInput): Promise<{ steppedUp: string[] }> {
    const { now, policy, counts } = ReportInput.parse(input);
    this.unsaved.add(counts);
    if (this.unsaved.size > 0 && !this.saveScheduled) {
      await this.ctx.storage.setAlarm(Date.now() + SAVE_EVERY_MS);
      this.saveScheduled = true;
    }
    if (now - this.judgedAt >= JUDGE_EVERY_MS || now < this.judgedAt) this.judge(policy, now);
    return { steppedUp: this.steppedUp };
  }

  /** Every scope with counts in the window or a state on record, busiest first. */
  async list(input: { now: number; policy: StepUpPolicy }): Promise<ScopeView[]> {
    const policy = StepUpPolicy.parse(input.policy);
    this.judge(policy, input.now);
    return this.views(policy, input.now).sort((a, b) => b.sends + b.refused - (a.sends + a.refused) || a.scope.localeCompare(b.scope));
  }

  async override(input: OverrideInput): Promise<void> {
    const { scope, mode, note, now } = OverrideInput.parse(input);
    this.sql.exec(
      `INSERT INTO scopes (scope, override, override_note, override_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (scope) DO UPDATE SET override = excluded.override, override_note = excluded.override_note, override_at = excluded.override_at`,
      scope,
      mode,
      mode ? note : null,
      mode ? now : null,
    );
    logWarn('scope.override', { scope, mode: mode ?? 'signal', note });
    this.judgedAt = Number.NEGATIVE_INFINITY;
  }

  /** Writes the counts summed since the last save: one row per scope and bucket that changed. */
  override async alarm(): Promise<void> {
    this.saveScheduled = false;
    for (const row of this.unsaved.rows()) {
      this.sql.exec(
        `INSERT INTO counts (scope, bucket, sends, verified, refused, solved) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (scope, bucket) DO UPDATE SET sends = sends + excluded.sends, verified = verified + excluded.verified,
           refused = refused + excluded.refused, solved = solved + excluded.solved`,
        row.scope,
        row.bucket,
        row.sends,
        row.verified,
        row.refused,
        row.solved,
      );
    }
    this.unsaved.clear();
  }

  private judge(policy: StepUpPolicy, now: number): void {
    const width = bucketMs(policy.windowSeconds);
    if (now - this.prunedAt >= width) {
      this.sql.exec('DELETE FROM counts WHERE bucket < ?', now - policy.windowSeconds * 1000 - width);
      this.unsaved.dropBefore(now - policy.windowSeconds * 1000 - width);
      this.prunedAt = now;
    }
    for (const view of this.views(policy, now)) {
      const was = view.signal === 'stepped_up';
      const is = judgeScope(was, view, policy, view.since === null ? undefined : now - view.since);
      if (is === was) continue;
      this.sql.exec(
        `INSERT INTO scopes (scope, stepped_up, since) VALUES (?, ?, ?) ON CONFLICT (scope) DO UPDATE SET stepped_up = excluded.stepped_up, since = excluded.since`,
        view.scope,
        is ? 1 : 0,
        now,
      );
      const fields = { scope: view.scope, conversion: view.conversion, settledSends: view.settledSends, refused: view.refused, solved: view.solved };
      // A stable event name for log-based alerting; the cron's conversion_step_up rule alerts operators too.
      if (is) logError('scope.stepped_up', fields);
      else logInfo('scope.relaxed', fields);
    }
    this.sql.exec('DELETE FROM scopes WHERE stepped_up = 0 AND override IS NULL');
    this.steppedUp = this.views(policy, now)
      .filter((view) => view.mode === 'stepped_up')
      .map((view) => view.scope);
    this.judgedAt = now;
  }

  private views(policy: StepUpPolicy, now: number): ScopeView[] {
    const since = now - policy.windowSeconds * 1000;
    const buckets = new Map<string, BucketCounts[]>();
    const saved = this.sql.exec<ScopeBucketCounts & Record<string, SqlStorageValue>>(
      'SELECT scope, bucket, sends, verified, refused, solved FROM counts WHERE bucket >= ?',
      since,
    );
    // A bucket may be both saved and still summing unsaved counts: the totals add them.
    for (const row of [...saved, ...this.unsaved.rows().filter((unsaved) => unsaved.bucket >= since)]) {
      const list = buckets.get(row.scope) ?? [];
      list.push(row);
      buckets.set(row.scope, list);
    }
    const states = new Map(
      this.sql
        .exec<StateRow>('SELECT * FROM scopes')
        .toArray()
        .map((row) => [row.scope, row]),
    );
    return [...new Set([...buckets.keys(), ...states.keys()])].map((scope) => {
      const totals = windowTotals(buckets.get(scope) ?? [], policy, now);
      const state = states.get(scope);
      const signal: ScopeMode = state?.stepped_up ? 'stepped_up' : 'normal';
      const override = state?.override ? { mode: ScopeMode.parse(state.override), note: state.override_note, at: state.override_at ?? now } : null;
      return { scope, ...totals, conversion: conversionOf(totals), signal, mode: override?.mode ?? signal, since: state?.since ?? null, override };
    });
  }
}
