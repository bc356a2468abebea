import { DurableObject } from 'cloudflare:workers';
import { z } from 'zod';

/**
 * One rate-limit key (for example one phone number) as a sliding-window log in the object's own
 * SQLite storage. A Durable Object handles one call at a time and the SQL calls are synchronous,
 * so check-then-record cannot interleave: the limit is exact under any concurrency.
 */

export const ConsumeInput = z.object({
  rules: z
    .array(z.object({ limit: z.number().int().min(1), windowSeconds: z.number().int().min(1).max(7 * 86400) }))
    .min(1)
    .max(10),
});
export type ConsumeInput = z.infer<typeof ConsumeInput>;

export interface LimitDecision {
  allowed: boolean;
  /** Sends left in the tightest window after this decision. */
  remaining: number;
  /** Seconds until a denied call could succeed, or until the tightest window frees a slot. */
  retryAfterSeconds: number;
}

export class RateLimiter extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.createSchema();
  }

  private createSchema(): void {
    this.sql.exec('CREATE TABLE IF NOT EXISTS hits (at INTEGER NOT NULL)');
    this.sql.exec('CREATE INDEX IF NOT EXISTS hits_at ON hits (at)');
  }

  async consume(input: ConsumeInput): Promise<LimitDecision> {
    const { rules } = ConsumeInput.parse(input);
    const now = Date.now();
    const longestMs = Math.max(...rules.map((rule) => rule.windowSeconds)) * 1000;
    this.sql.exec('DELETE FROM hits WHERE at <= ?', now - longestMs);

    let retryAfterMs = 0;
    let remaining = Number.POSITIVE_INFINITY;
    let tightestResetMs = 0;
    for (const rule of rules) {
      const windowStart = now - rule.windowSeconds * 1000;
      const count = this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM hits WHERE at > ?', windowStart).one().n;
      if (count >= rule.limit) {
        // The window frees a slot when its (count - limit + 1)-th oldest hit leaves it.
        const freeing = this.sql
          .exec<{ at: number }>('SELECT at FROM hits WHERE at > ? ORDER BY at LIMIT 1 OFFSET ?', windowStart, count - rule.limit)
          .one().at;
        retryAfterMs = Math.max(retryAfterMs, freeing + rule.windowSeconds * 1000 - now);
      } else if (rule.limit - count - 1 < remaining) {
        remaining = rule.limit - count - 1;
        const oldest = this.sql.exec<{ at: number | null }>('SELECT MIN(at) AS at FROM hits WHERE at > ?', windowStart).one().at;
        tightestResetMs = (oldest ?? now) + rule.windowSeconds * 1000 - now;
      }
    }
    if (retryAfterMs > 0) return { allowed: false, remaining: 0, retryAfterSeconds: Math.ceil(retryAfterMs / 1000) };

    this.sql.exec('INSERT INTO hits (at) VALUES (?)', now);
    await this.scheduleCleanup(now + longestMs);
    return { allowed: true, remaining, retryAfterSeconds: Math.ceil(tightestResetMs / 1000) };
  }

  /** Gives back the most recent hit: used when what was counted turned out not to count (a correct code). */
  async refund(): Promise<void> {
    this.sql.exec('DELETE FROM hits WHERE rowid = (SELECT rowid FROM hits ORDER BY at DESC LIMIT 1)');
  }

  /** Drops hits that left every window; an idle key frees all of its storage. */
  override async alarm(): Promise<void> {
    const latest = this.sql.exec<{ at: number | null }>('SELECT MAX(at) AS at FROM hits').one().at;
    const stored = await this.ctx.storage.get<number>('longestMs');
    const longestMs = stored ?? 0;
    if (latest === null || latest + longestMs <= Date.now()) {
      await this.ctx.storage.deleteAll();
      this.createSchema();
      return;
    }
    this.sql.exec('DELETE FROM hits WHERE at <= ?', Date.now() - longestMs);
    await this.ctx.storage.setAlarm(latest + longestMs);
  }

  private async scheduleCleanup(at: number): Promise<void> {
    const now = Date.now();
    await this.ctx.storage.put('longestMs', at - now);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current < at) await this.ctx.storage.setAlarm(at);
  }
}
