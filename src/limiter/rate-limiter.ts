import { DurableObject } from 'cloudflare:workers';
import { z } from 'zod';
import { StorageUpkeep } from './storage-upkeep';
import { Cooldown, WindowRule, createWindowLog, evaluateWindows, longestWindowMs, pruneEvents, recordEvent, removeEvent } from './window-log';

/**
 * One rate-limit key (a phone number, a client IP, a shard of the global budget) as a
 * sliding-window log. Storage expires: an alarm deletes everything once the key goes idle.
 */

export const ConsumeInput = z.object({
  rules: z.array(WindowRule).min(1).max(10),
  cooldown: Cooldown.optional(),
});
export type ConsumeInput = z.input<typeof ConsumeInput>;

export interface LimitDecision {
  allowed: boolean;
  /** Events left in the tightest window after this decision. */
  remaining: number;
  /** When denied, seconds until the call could succeed. */
  retryAfterSeconds: number;
  /** When admitted, what `refund` needs to take this event back. */
  eventId?: number;
}

const EVENTS = 'events';

export class RateLimiter extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly upkeep: StorageUpkeep;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.upkeep = new StorageUpkeep(ctx.storage);
    createWindowLog(this.sql, EVENTS);
  }

  async consume(input: ConsumeInput): Promise<LimitDecision> {
    const { rules, cooldown } = ConsumeInput.parse(input);
    const now = Date.now();
    const keepMs = longestWindowMs(rules, cooldown);
    if (this.upkeep.shouldPrune(now, keepMs)) pruneEvents(this.sql, EVENTS, now - keepMs);
    const verdict = evaluateWindows(this.sql, EVENTS, rules, cooldown, now);
    if (!verdict.allowed) return { allowed: false, remaining: 0, retryAfterSeconds: Math.ceil(verdict.retryAfterMs / 1000) };
    const eventId = recordEvent(this.sql, EVENTS, now);
    await this.upkeep.keep(keepMs, now + keepMs);
    return { allowed: true, remaining: verdict.remaining, retryAfterSeconds: 0, eventId };
  }

  /** Takes an admitted event back: another scope denied the request, or it did not count. */
  async refund(eventId?: number): Promise<void> {
    if (eventId !== undefined) removeEvent(this.sql, EVENTS, eventId);
    else this.sql.exec(`DELETE FROM ${EVENTS} WHERE id = (SELECT MAX(id) FROM ${EVENTS})`);
  }

  /** Drops events that left every window; an idle key frees all of its storage. */
  override async alarm(): Promise<void> {
    const keepMs = await this.upkeep.storedKeepMs();
    const newest = pruneEvents(this.sql, EVENTS, Date.now() - keepMs);
    if (newest === null) {
      await this.ctx.storage.deleteAll();
      this.upkeep.forget();
      createWindowLog(this.sql, EVENTS);
      return;
    }
    await this.upkeep.alarmFired(newest + keepMs);
  }
}
