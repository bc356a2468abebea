import { DurableObject } from 'cloudflare:workers';
import { z } from 'zod';
import { type BlockReason, markBlockLifted, mirrorAutomaticBlock, type PrefixBlock } from '../db/prefix-blocks';
import { logError, logInfo } from '../log';
import { createPhoneSends, evaluatePhone, PHONE_SENDS, recordPhoneSend, removePhoneSend } from './phone-sends';
import { PumpingPolicy, pumpingSignal } from './pumping-signals';
import { StorageUpkeep } from './storage-upkeep';
import { createVerifiedNumbers, isReturning, pruneVerified, rememberVerified, VERIFIED_NUMBERS } from './verified-numbers';
import { Cooldown, evaluateWindows, longestWindowMs, pruneEvents, WindowRule } from './window-log';

/**
 * One destination prefix (country code plus leading digits): its send rate limit, its SMS-pumping
 * signals and its block, and the per-phone windows and cooldown of its numbers (every number of a
 * prefix comes here, so they are exact; asking one object saves a call per send). Pumping shows as sends that are never verified, often to runs of
 * consecutive numbers; legitimate traffic converts 60-80%. When either signal fires the prefix is
 * blocked for a while, and the block is mirrored to D1 so operators can list and lift it. Operator
 * blocks, of any length, live in D1 only (see prefix-blocks.ts).
 */

export const AdmitInput = z.object({
  prefix: z.string().regex(/^\+\d{1,15}$/),
  requestId: z.string(),
  /** Hash of the whole number, and of the number without its last three digits. */
  numberKey: z.string().min(8),
  blockKey: z.string().min(8),
  rules: z.array(WindowRule).min(1).max(10),
  pumping: PumpingPolicy,
  /** The number's own windows and cooldown, decided here too: one call, one transaction, one refund. */
  phone: z.object({ rules: z.array(WindowRule).min(1).max(10), cooldown: Cooldown.optional() }).optional(),
  /**
   * False for the sandbox's test numbers: only their phone limits apply here; they neither meet
   * nor feed the prefix's block, limits and pumping signals.
   */
  prefixScope: z.boolean().default(true),
  /** How long a verified number counts as returning (the step-up lets it through); absent: not asked. */
  returningSeconds: z.number().int().min(1).optional(),
});
export type AdmitInput = z.input<typeof AdmitInput>;

export type { BlockReason, PrefixBlock } from '../db/prefix-blocks';
export { PumpingPolicy } from './pumping-signals';

/** Which part refused: the number's own limit, the prefix's limit, or the prefix's block. */
export interface AdmitRefusal {
  scope: 'phone' | 'prefix' | 'blocked';
  retryAfterSeconds: number;
}

/** `returning`: the number verified a code within `returningSeconds` (asked only then). */
export type AdmitDecision = { allowed: true; returning: boolean } | { allowed: false; refusals: AdmitRefusal[] };

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

  /**
   * No secondary index: a prefix keeps an hour of sends, scanned cheaply; each index would cost a
   * write per send. The numbers' own sends are in `phone_sends` (see phone-sends.ts).
   */
  private createSchema(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS ${SENDS} (
      request_id TEXT PRIMARY KEY, at INTEGER NOT NULL, number_key TEXT NOT NULL, block_key TEXT NOT NULL,
      verified INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID`);
    createPhoneSends(this.sql);
    createVerifiedNumbers(this.sql);
  }

  /**
   * Decides the prefix (block, pumping signals, windows) and the number (windows, cooldown) at
   * once; a send is written to both logs only when neither refuses, so a refusal consumes nothing
   * here. Every refusal is answered, so the caller can name the first and wait the longest.
   */
  async admit(input: AdmitInput): Promise<AdmitDecision> {
    const request = AdmitInput.parse(input);
    const now = Date.now();
    const prefixKeepMs = Math.max(longestWindowMs(request.rules), request.pumping.windowSeconds * 1000, request.pumping.sequentialSeconds * 1000);
    const phoneKeepMs = request.phone ? longestWindowMs(request.phone.rules, request.phone.cooldown) : 0;
    const refusals: AdmitRefusal[] = [];
    const secondsUntil = (ms: number) => Math.ceil(ms / 1000);

    if (request.prefixScope) {
      if (this.upkeep.shouldPrune(now, prefixKeepMs, SENDS)) pruneEvents(this.sql, SENDS, now - prefixKeepMs);
      const refusal = await this.prefixRefusal(request, now);
      if (refusal) refusals.push(refusal);
    }
    if (request.phone) {
      if (this.upkeep.shouldPrune(now, phoneKeepMs, PHONE_SENDS)) pruneEvents(this.sql, PHONE_SENDS, now - phoneKeepMs);
      const verdict = evaluatePhone(this.sql, request.numberKey, request.phone.rules, request.phone.cooldown, now);
      if (!verdict.allowed) refusals.push({ scope: 'phone', retryAfterSeconds: secondsUntil(verdict.retryAfterMs) });
    }
    if (refusals.length > 0) return { allowed: false, refusals };

    if (request.prefixScope) {
      this.sql.exec(
        `INSERT OR REPLACE INTO ${SENDS} (request_id, at, number_key, block_key) VALUES (?, ?, ?, ?)`,
        request.requestId,
        now,
        request.numberKey,
        request.blockKey,
      );
    }
    if (request.phone) recordPhoneSend(this.sql, request.numberKey, request.requestId, now);
    // One retention for the alarm, whichever logs this call wrote: the longer of the two.
    const keepMs = Math.max(prefixKeepMs, phoneKeepMs);
    await this.upkeep.keep(keepMs, now + keepMs);
    const returning = request.returningSeconds !== undefined && isReturning(this.sql, request.numberKey, now, request.returningSeconds * 1000);
    return { allowed: true, returning };
  }

  /** The prefix's part: its block (which a pumping signal may set now), then its windows. */
  private async prefixRefusal(request: z.output<typeof AdmitInput>, now: number): Promise<AdmitRefusal | null> {
    const block = await this.activeBlock(now);
    if (block) return { scope: 'blocked', retryAfterSeconds: Math.ceil((block.until - now) / 1000) };
    const signal = pumpingSignal(this.sql, request, request.pumping, now);
    if (signal) {
      const blocked = await this.setBlock(request.prefix, signal.reason, signal.note, now, request.pumping.blockSeconds);
      return { scope: 'blocked', retryAfterSeconds: Math.ceil((blocked.until - now) / 1000) };
    }
    const verdict = evaluateWindows(this.sql, SENDS, request.rules, undefined, now);
    return verdict.allowed ? null : { scope: 'prefix', retryAfterSeconds: Math.ceil(verdict.retryAfterMs / 1000) };
  }

  /** Another scope denied the request: it was never sent, so it counts for nothing here. */
  async refund(requestId: string, numberKey?: string): Promise<void> {
    this.sql.exec(`DELETE FROM ${SENDS} WHERE request_id = ?`, requestId);
    removePhoneSend(this.sql, requestId, numberKey);
  }

  /**
   * One number's data erased: its rows in both logs (keyed by its hash), all of them or only those
   * of the given requests (one app's). The prefix's limits and signals count them no more. Its
   * memory as a returning number goes either way: it names no app, and the number asked to be forgotten.
   */
  async erase(input: { numberKey: string; requestIds: string[] | null }): Promise<{ sends: number; phoneSends: number; verifiedNumbers: number }> {
    const { numberKey, requestIds } = z.object({ numberKey: z.string().min(8), requestIds: z.array(z.string()).nullable() }).parse(input);
    const where = `number_key = ?${requestIds === null ? '' : ' AND request_id IN (SELECT value FROM json_each(?))'}`;
    const bindings = requestIds === null ? [numberKey] : [numberKey, JSON.stringify(requestIds)];
    const eraseFrom = (table: string) => {
      const { n } = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`, ...bindings).one();
      this.sql.exec(`DELETE FROM ${table} WHERE ${where}`, ...bindings);
      return n;
    };
    const verifiedNumbers = this.sql.exec(`DELETE FROM ${VERIFIED_NUMBERS} WHERE number_key = ?`, numberKey).rowsWritten;
    return { sends: eraseFrom(SENDS), phoneSends: eraseFrom(PHONE_SENDS), verifiedNumbers };
  }

  /**
   * A code sent to this prefix was verified: the conversion signal, and (with `returningSeconds`)
   * its number is remembered as returning for that long.
   */
  async recordVerification(requestId: string, returningSeconds?: number): Promise<void> {
    this.sql.exec('UPDATE sends SET verified = 1 WHERE request_id = ?', requestId);
    if (returningSeconds === undefined) return;
    const now = Date.now();
    const keepMs = returningSeconds * 1000;
    if (await rememberVerified(this.ctx.storage, requestId, now, keepMs)) await this.upkeep.alarmBy(now + keepMs);
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
    const newestSends = [pruneEvents(this.sql, SENDS, now - keepMs), pruneEvents(this.sql, PHONE_SENDS, now - keepMs)].filter((at) => at !== null);
    const newest = newestSends.length > 0 ? Math.max(...newestSends) : null;
    const block = await this.activeBlock(now);
    const verifiedUntil = await pruneVerified(this.ctx.storage, now);
    if (newest === null && !block && verifiedUntil === null) {
      await this.ctx.storage.deleteAll();
      this.upkeep.forget();
      this.createSchema();
      return;
    }
    const next = Math.min(newest !== null ? newest + keepMs : Infinity, block?.until ?? Infinity, verifiedUntil ?? Infinity);
    await this.upkeep.alarmFired(Math.max(now + 1000, next));
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
