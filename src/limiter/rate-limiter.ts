import { DurableObject } from 'cloudflare:workers';
import { z } from 'zod';
import { createLeaseLog, grantLease, LEASES, returnUnits } from './lease-log';
import { StorageUpkeep } from './storage-upkeep';
import { Cooldown, countEvents, createWindowLog, evaluateWindows, longestWindowMs, pruneEvents, recordEvent, removeEvent, WindowRule } from './window-log';

/**
 * One rate-limit key (a client IP, a phone's failure budget) as a sliding-window log, or a budget
 * handed out in leases (a shard of the global budget, an app's daily budget). Storage expires: an alarm deletes everything once the key goes idle.
 */

export const ConsumeInput = z.object({
  rules: z.array(WindowRule).min(1).max(10),
  cooldown: Cooldown.optional(),
});
export type ConsumeInput = z.input<typeof ConsumeInput>;

const SettleInput = z.object({
  holdId: z.number().int().min(1),
  counts: z.boolean(),
  /** The rules the hold was decided by: how long a written event must be kept. */
  rules: z.array(WindowRule).min(1).max(10),
});
export type SettleInput = z.input<typeof SettleInput>;

export const LeaseInput = z.object({
  rules: z.array(WindowRule).min(1).max(10),
  /** Units wanted; fewer are granted when the windows have less room. */
  units: z.number().int().min(1).max(1000),
  leaseMs: z.number().int().min(1).max(600_000),
  /** Units of an earlier lease from this object that its holder will never spend. */
  returned: z.object({ leaseId: z.number().int().min(1), units: z.number().int().min(1) }).optional(),
});
export type LeaseInput = z.input<typeof LeaseInput>;

export interface LeaseGrant {
  /** Units granted, spendable until leaseMs after the call was made; 0 when the budget is spent. */
  units: number;
  leaseId?: number;
  /** When none were granted: seconds until one could be. */
  retryAfterSeconds: number;
}

export interface LimitDecision {
  allowed: boolean;
  /** Events left in the tightest window after this decision. */
  remaining: number;
  /** When denied, seconds until the call could succeed. */
  retryAfterSeconds: number;
  /** When admitted, what `refund` needs to take this event back. */
  eventId?: number;
  /** When admitted by `hold`, what `settle` needs to keep or drop the lent event. */
  holdId?: number;
  /** When denied: events written within the longest window (for a failure budget, the failures). */
  used?: number;
}

/** A budget after an event was written: how much of it is used, and until when it is spent (null: not spent). */
export interface BudgetState {
  used: number;
  spentUntil: number | null;
}

/**
 * A lent event nobody settled within this time (its caller died mid-way) is written as if it
 * counted: for a failure budget, losing track of a guess must not hand it back.
 */
export const HOLD_TTL_MS = 60_000;

interface Hold {
  at: number;
  keepMs: number;
}

const EVENTS = 'events';

export class RateLimiter extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly upkeep: StorageUpkeep;
  /** Lent events, in memory only: most are given back, and a row written costs; see `hold`. */
  private readonly holds = new Map<number, Hold>();
  private nextHoldId = 1;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.upkeep = new StorageUpkeep(ctx.storage);
    createWindowLog(this.sql, EVENTS);
    createLeaseLog(this.sql);
  }

  /**
   * A block of a budget (a global shard, an app's daily budget) for a caller to spend on its own
   * (see budget-leases.ts): one row per lease, however many units it holds.
   */
  async lease(input: LeaseInput): Promise<LeaseGrant> {
    const { rules, units, leaseMs, returned } = LeaseInput.parse(input);
    const now = Date.now();
    if (returned) returnUnits(this.sql, returned.leaseId, returned.units);
    const keepMs = longestWindowMs(rules);
    if (this.upkeep.shouldPrune(now, keepMs, LEASES)) pruneEvents(this.sql, LEASES, now - keepMs);
    const verdict = grantLease(this.sql, rules, units, leaseMs, now);
    if (verdict.units === 0) return { units: 0, retryAfterSeconds: Math.ceil(verdict.retryAfterMs / 1000) };
    await this.upkeep.keep(keepMs, now + leaseMs + keepMs);
    return { units: verdict.units, leaseId: verdict.leaseId, retryAfterSeconds: 0 };
  }

  async consume(input: ConsumeInput): Promise<LimitDecision> {
    const decision = await this.decide(input);
    if (!decision.allowed) return decision.denied;
    const eventId = await this.write(decision.event);
    return { allowed: true, remaining: decision.remaining, retryAfterSeconds: 0, eventId };
  }

  /**
   * Decides like `consume`, but lends the event instead of writing it: `settle` later writes it
   * (it counted) or drops it (it did not). Lent events count in every decision until then, so
   * concurrent callers cannot overdraw the budget. For a budget of failures, where nearly every
   * call ends in success, this writes a row only for actual failures instead of a row and its
   * deletion for every call.
   */
  async hold(input: ConsumeInput): Promise<LimitDecision> {
    const decision = await this.decide(input);
    if (!decision.allowed) return decision.denied;
    const holdId = this.nextHoldId++;
    this.holds.set(holdId, decision.event);
    return { allowed: true, remaining: decision.remaining, retryAfterSeconds: 0, holdId };
  }

  /**
   * Ends a hold: `counts` writes the event at the time it was lent, otherwise it is dropped. A
   * hold this object no longer knows (it restarted in between) that counts is written now. A
   * written event answers the budget's state, so the caller learns when this event spent it.
   */
  async settle(input: SettleInput): Promise<BudgetState | null> {
    const { holdId, counts, rules } = SettleInput.parse(input);
    const held = this.holds.get(holdId);
    this.holds.delete(holdId);
    if (!counts) return null;
    await this.write(held ?? { at: Date.now(), keepMs: longestWindowMs(rules) });
    const now = Date.now();
    // Written events only: lent ones may still turn out not to count.
    const verdict = evaluateWindows(this.sql, EVENTS, rules, undefined, now);
    return { used: countEvents(this.sql, EVENTS, now - longestWindowMs(rules)), spentUntil: verdict.allowed ? null : now + verdict.retryAfterMs };
  }

  /** Forgets every written event: an operator lifted the lock this budget imposes. */
  async clear(): Promise<void> {
    this.sql.exec(`DELETE FROM ${EVENTS}`);
  }

  /** The one decision `consume` and `hold` share: written and lent events both count. */
  private async decide(input: ConsumeInput): Promise<{ allowed: false; denied: LimitDecision } | { allowed: true; remaining: number; event: Hold }> {
    const { rules, cooldown } = ConsumeInput.parse(input);
    const now = Date.now();
    const keepMs = longestWindowMs(rules, cooldown);
    await this.writeAbandonedHolds(now);
    if (this.upkeep.shouldPrune(now, keepMs)) pruneEvents(this.sql, EVENTS, now - keepMs);
    const pending = [...this.holds.values()].map((held) => held.at);
    const verdict = evaluateWindows(this.sql, EVENTS, rules, cooldown, now, pending);
    if (!verdict.allowed) {
      const used = countEvents(this.sql, EVENTS, now - longestWindowMs(rules));
      return { allowed: false, denied: { allowed: false, remaining: 0, retryAfterSeconds: Math.ceil(verdict.retryAfterMs / 1000), used } };
    }
    return { allowed: true, remaining: verdict.remaining, event: { at: now, keepMs } };
  }

  private async writeAbandonedHolds(now: number): Promise<void> {
    for (const [holdId, held] of this.holds) {
      if (now - held.at < HOLD_TTL_MS) continue;
      this.holds.delete(holdId);
      await this.write(held);
    }
  }

  /** Records an event and makes sure the alarm that forgets it is set; the id is what `refund` takes. */
  private async write(event: Hold): Promise<number> {
    const eventId = recordEvent(this.sql, EVENTS, event.at);
    await this.upkeep.keep(event.keepMs, event.at + event.keepMs);
    return eventId;
  }

  /** Takes an admitted event back: another scope denied the request, or it did not count. */
  async refund(eventId?: number): Promise<void> {
    if (eventId !== undefined) removeEvent(this.sql, EVENTS, eventId);
    else this.sql.exec(`DELETE FROM ${EVENTS} WHERE id = (SELECT MAX(id) FROM ${EVENTS})`);
  }

  /** Drops events that left every window; an idle key frees all of its storage. */
  override async alarm(): Promise<void> {
    const keepMs = await this.upkeep.storedKeepMs();
    const since = Date.now() - keepMs;
    const newestOfEach = [pruneEvents(this.sql, EVENTS, since), pruneEvents(this.sql, LEASES, since)].filter((at) => at !== null);
    if (newestOfEach.length === 0) {
      await this.ctx.storage.deleteAll();
      this.upkeep.forget();
      createWindowLog(this.sql, EVENTS);
      createLeaseLog(this.sql);
      return;
    }
    const newest = Math.max(...newestOfEach);
    await this.upkeep.alarmFired(newest + keepMs);
  }
}
