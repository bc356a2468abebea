import { DurableObject } from 'cloudflare:workers';
import { z } from 'zod';
import type { LimitDecision } from './rate-limiter';
import { StorageUpkeep } from './storage-upkeep';
import { Cooldown, evaluateWindows, longestWindowMs, pruneEvents, WindowRule } from './window-log';

/**
 * The windows of every client address whose key hashes to this shard (see client-ip-shards.ts),
 * as one keyed log: each address has exactly one shard, so its limits are as exact as they were
 * with an object of its own, while a send from an address never seen before writes one row to a
 * shard that already exists instead of creating an object (its database, schema, stored window
 * length and alarm). Decides like `RateLimiter.consume`: the same rules, cooldown, Retry-After and
 * `remaining`.
 */

export const IP_SENDS = 'ip_sends';

/**
 * Keyed by the address's hash first, an address's check reads only its own rows; one row written
 * per admitted send and no secondary index (each would be one more row written per send). Pruning
 * by age scans the whole table, which happens at most once per window.
 */
function createIpSends(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE IF NOT EXISTS ${IP_SENDS} (
    ip_key TEXT NOT NULL, at INTEGER NOT NULL, id INTEGER NOT NULL,
    PRIMARY KEY (ip_key, at, id)) WITHOUT ROWID`);
}

const IpKey = z.string().regex(/^[0-9a-f]{64}$/, 'the SHA-256 of the address key, in hex');

export const ClientIpConsumeInput = z.object({
  ipKey: IpKey,
  rules: z.array(WindowRule).min(1).max(10),
  cooldown: Cooldown.optional(),
});
export type ClientIpConsumeInput = z.input<typeof ClientIpConsumeInput>;

const RefundInput = z.object({ ipKey: IpKey, eventId: z.number().int().min(0) });

export class ClientIpGuard extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly upkeep: StorageUpkeep;
  /** The longest retention any call asked for since the shard was last cleared; see `retentionFor`. */
  private keptMs: number | undefined;
  /**
   * Event ids count up from a random start: unique within this instance, and an instance restarted
   * in the same millisecond for the same address would have to land on the same numbers to collide.
   */
  private nextEventId = crypto.getRandomValues(new Uint32Array(1))[0]!;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.upkeep = new StorageUpkeep(ctx.storage);
    createIpSends(this.sql);
  }

  /**
   * Admits one send from the address when every window (and the cooldown, if given) has room and
   * writes its row; a refusal writes nothing. The object runs one call at a time and nothing is
   * awaited between the check and the write, so concurrent sends never overdraw a window.
   */
  async consume(input: ClientIpConsumeInput): Promise<LimitDecision> {
    const { ipKey, rules, cooldown } = ClientIpConsumeInput.parse(input);
    const now = Date.now();
    const keepMs = await this.retentionFor(longestWindowMs(rules, cooldown));
    if (this.upkeep.shouldPrune(now, keepMs)) pruneEvents(this.sql, IP_SENDS, now - keepMs);
    const verdict = evaluateWindows(this.sql, { table: IP_SENDS, column: 'ip_key', value: ipKey }, rules, cooldown, now);
    if (!verdict.allowed) return { allowed: false, remaining: 0, retryAfterSeconds: Math.ceil(verdict.retryAfterMs / 1000) };
    const eventId = this.nextEventId++;
    this.sql.exec(`INSERT INTO ${IP_SENDS} (ip_key, at, id) VALUES (?, ?, ?)`, ipKey, now, eventId);
    await this.upkeep.keep(keepMs, now + keepMs);
    return { allowed: true, remaining: verdict.remaining, retryAfterSeconds: 0, eventId };
  }

  /** Takes an admitted send back (another scope refused it); reads only the address's rows. */
  async refund(ipKey: string, eventId: number): Promise<void> {
    const refund = RefundInput.parse({ ipKey, eventId });
    this.sql.exec(`DELETE FROM ${IP_SENDS} WHERE ip_key = ? AND id = ?`, refund.ipKey, refund.eventId);
  }

  /** Drops sends that left every window; once none is left, the shard frees all of its storage. */
  override async alarm(): Promise<void> {
    const keepMs = await this.upkeep.storedKeepMs();
    const newest = pruneEvents(this.sql, IP_SENDS, Date.now() - keepMs);
    if (newest === null) {
      await this.ctx.storage.deleteAll();
      this.upkeep.forget();
      this.keptMs = undefined;
      createIpSends(this.sql);
      return;
    }
    await this.upkeep.alarmFired(newest + keepMs);
  }

  /**
   * Addresses of one shard may be asked with windows of different lengths (the unreadable
   * addresses' bucket has rules of its own, and settings change), so rows are kept for the longest
   * any call asked for: pruning for one address never drops rows another still counts. Stored with
   * each write (StorageUpkeep.keep), so it survives a restart; it only grows until the shard is cleared.
   */
  private async retentionFor(requestedMs: number): Promise<number> {
    this.keptMs = Math.max(this.keptMs ?? (await this.upkeep.storedKeepMs()), requestedMs);
    return this.keptMs;
  }
}
