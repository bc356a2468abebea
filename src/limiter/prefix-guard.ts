import { DurableObject } from 'cloudflare:workers';
import { z } from 'zod';
import { type BlockReason, markBlockLifted, mirrorAutomaticBlock, type PrefixBlock } from '../db/prefix-blocks';
import { logError, logInfo } from '../log';
import { StorageUpkeep } from './storage-upkeep';
import { evaluateWindows, longestWindowMs, pruneEvents, WindowRule } from './window-log';

/**
 * One destination prefix (country code plus leading digits): its send rate limit, its SMS-pumping
 * signals and its block. Pumping shows as sends that are never verified, often to runs of
 * consecutive numbers; legitimate traffic converts 60-80%. When either signal fires the prefix is
 * blocked for a while, and the block is mirrored to D1 so operators can list and lift it. Operator
 * blocks, of any length, live in D1 only (see prefix-blocks.ts).
 */

export const PumpingPolicy = z.object({
  windowSeconds: z.number().int().min(1),
  graceSeconds: z.number().int().min(0),
  minSends: z.number().int().min(1),
  minConversion: z.number().min(0).max(1),
  blockSeconds: z.number().int().min(1),
  sequentialNumbers: z.number().int().min(2),
  sequentialSeconds: z.number().int().min(1),
});
export type PumpingPolicy = z.infer<typeof PumpingPolicy>;

export const AdmitInput = z.object({
  prefix: z.string().regex(/^\+\d{1,15}$/),
  requestId: z.string(),
  /** Hash of the whole number, and of the number without its last three digits. */
  numberKey: z.string().min(8),
  blockKey: z.string().min(8),
  rules: z.array(WindowRule).min(1).max(10),
  pumping: PumpingPolicy,
});
export type AdmitInput = z.infer<typeof AdmitInput>;

export type { BlockReason, PrefixBlock } from '../db/prefix-blocks';

export type AdmitDecision = { allowed: true } | { allowed: false; blocked: boolean; retryAfterSeconds: number };

/** The send log is also the prefix's rate-limit log: one row per admitted send, nothing else. */
const SENDS = 'sends';
const BLOCK_KEY = 'block';

export class PrefixGuard extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly upkeep: StorageUpkeep;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.upkeep = new StorageUpkeep(ctx.storage);
    this.createSchema();
  }

  /** No secondary index: a prefix keeps an hour of sends, scanned cheaply; each index would cost a write per send. */
  private createSchema(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS ${SENDS} (
      request_id TEXT PRIMARY KEY, at INTEGER NOT NULL, number_key TEXT NOT NULL, block_key TEXT NOT NULL,
      verified INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID`);
  }

  async admit(input: AdmitInput): Promise<AdmitDecision> {
    const request = AdmitInput.parse(input);
    const now = Date.now();
    const block = await this.activeBlock(now);
    if (block) return { allowed: false, blocked: true, retryAfterSeconds: Math.ceil((block.until - now) / 1000) };

    const keepMs = Math.max(longestWindowMs(request.rules), request.pumping.windowSeconds * 1000, request.pumping.sequentialSeconds * 1000);
    if (this.upkeep.shouldPrune(now, keepMs)) pruneEvents(this.sql, SENDS, now - keepMs);

    const signal = this.pumpingSignal(request, now);
    if (signal) {
      const blocked = await this.setBlock(request.prefix, signal.reason, signal.note, now, request.pumping.blockSeconds);
      return { allowed: false, blocked: true, retryAfterSeconds: Math.ceil((blocked.until - now) / 1000) };
    }

    const verdict = evaluateWindows(this.sql, SENDS, request.rules, undefined, now);
    if (!verdict.allowed) return { allowed: false, blocked: false, retryAfterSeconds: Math.ceil(verdict.retryAfterMs / 1000) };

    this.sql.exec(
      `INSERT OR REPLACE INTO ${SENDS} (request_id, at, number_key, block_key) VALUES (?, ?, ?, ?)`,
      request.requestId,
      now,
      request.numberKey,
      request.blockKey,
    );
    await this.upkeep.keep(keepMs, now + keepMs);
    return { allowed: true };
  }

  /** Another scope denied the request: it was never sent, so it counts for nothing here. */
  async refund(requestId: string): Promise<void> {
    this.sql.exec(`DELETE FROM ${SENDS} WHERE request_id = ?`, requestId);
  }

  /** A code sent to this prefix was verified: the conversion signal. */
  async recordVerification(requestId: string): Promise<void> {
    this.sql.exec('UPDATE sends SET verified = 1 WHERE request_id = ?', requestId);
  }

  async status(): Promise<{ block: PrefixBlock | null; sends: number; verified: number }> {
    const counts = this.sql.exec<{ sends: number; verified: number | null }>('SELECT COUNT(*) AS sends, SUM(verified) AS verified FROM sends').one();
    return { block: await this.activeBlock(Date.now()), sends: counts.sends, verified: counts.verified ?? 0 };
  }

  async lift(): Promise<PrefixBlock | null> {
    const block = await this.activeBlock(Date.now());
    await this.ctx.storage.delete(BLOCK_KEY);
    // Signals that led to an automatic block would block again at once: start counting afresh.
    this.sql.exec('DELETE FROM sends');
    if (block) {
      logInfo('prefix.unblocked', { prefix: block.prefix, reason: block.reason });
      await markBlockLifted(this.env.DB, block.prefix, Date.now());
    }
    return block;
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    const keepMs = await this.upkeep.storedKeepMs();
    const newest = pruneEvents(this.sql, SENDS, now - keepMs);
    const block = await this.activeBlock(now);
    if (newest === null && !block) {
      await this.ctx.storage.deleteAll();
      this.upkeep.forget();
      this.createSchema();
      return;
    }
    await this.upkeep.alarmFired(Math.max(now + 1000, Math.min(newest !== null ? newest + keepMs : Infinity, block?.until ?? Infinity)));
  }

  private pumpingSignal(request: AdmitInput, now: number): { reason: BlockReason; note: string } | null {
    const { pumping } = request;
    // Consecutive numbers: distinct numbers in this one thousand-number block, this one included.
    const distinct =
      this.sql
        .exec<{ n: number }>(
          `SELECT COUNT(DISTINCT number_key) AS n FROM ${SENDS} WHERE block_key = ? AND at > ? AND number_key != ?`,
          request.blockKey,
          now - pumping.sequentialSeconds * 1000,
          request.numberKey,
        )
        .one().n + 1;
    if (distinct >= pumping.sequentialNumbers) {
      return { reason: 'sequential_numbers', note: `${distinct} numbers of one thousand-block within ${pumping.sequentialSeconds} s` };
    }
    // Conversion of sends old enough to have been verified by a real user.
    const settled = this.sql
      .exec<{ sends: number; verified: number | null }>(
        'SELECT COUNT(*) AS sends, SUM(verified) AS verified FROM sends WHERE at > ? AND at <= ?',
        now - pumping.windowSeconds * 1000,
        now - pumping.graceSeconds * 1000,
      )
      .one();
    if (settled.sends >= pumping.minSends) {
      const conversion = (settled.verified ?? 0) / settled.sends;
      if (conversion < pumping.minConversion) {
        return { reason: 'low_conversion', note: `${Math.round(conversion * 100)}% of ${settled.sends} sends verified` };
      }
    }
    return null;
  }

  private async setBlock(prefix: string, reason: BlockReason, note: string | null, now: number, seconds: number): Promise<PrefixBlock> {
    const block: PrefixBlock = { prefix, reason, note, blockedAt: now, until: now + seconds * 1000 };
    await this.ctx.storage.put(BLOCK_KEY, block);
    await this.upkeep.alarmBy(block.until);
    logError('prefix.blocked', { prefix, reason, note, until: new Date(block.until).toISOString() });
    try {
      await mirrorAutomaticBlock(this.env.DB, block);
    } catch (error) {
      // The block itself lives here and is in force; only the operators' listing lags. (A longer
      // block already on record, e.g. an operator's, is kept: the WHERE above.)
      logError('prefix.block_not_mirrored', { prefix, error: error instanceof Error ? error.message : String(error) });
    }
    return block;
  }

  private async activeBlock(now: number): Promise<PrefixBlock | null> {
    const block = await this.ctx.storage.get<PrefixBlock>(BLOCK_KEY);
    return block && block.until > now ? block : null;
  }
}
