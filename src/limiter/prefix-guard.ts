import { DurableObject } from 'cloudflare:workers';
import { z } from 'zod';
import { type BlockReason, markBlockLifted, mirrorAutomaticBlock, type PrefixBlock } from '../db/prefix-blocks';
import { logError, logInfo } from '../log';
import { conversion, PumpingPolicy, pumpingSignal } from './pumping-signals';
import { SendIndex } from './send-index';
import { createSendLog, deleteSend, forgetPrefixSends, insertSend, readSends, SENDS, type SendRow } from './send-log';
import { StorageUpkeep } from './storage-upkeep';
import { createVerifiedNumbers, isReturning, pruneVerified, rememberVerified, VERIFIED_NUMBERS } from './verified-numbers';
import { Cooldown, evaluateTimes, evaluateWindows, longestWindowMs, pruneEvents, WindowRule } from './window-log';

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

/** The prefix's windows count the rows of the send log that are the prefix's. */
const PREFIX_SENDS = { table: SENDS, filter: 'prefix_scope = 1' };
const BLOCK_KEY = 'block';

export class PrefixGuard extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly upkeep: StorageUpkeep;
  /** The send log in memory (send-index.ts): the numbers' windows and sends found by request. */
  private index: SendIndex;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.upkeep = new StorageUpkeep(ctx.storage);
    this.index = this.createSchema();
  }

  /** One send log for both scopes (send-log.ts), and the index built from it. */
  private createSchema(): SendIndex {
    createVerifiedNumbers(this.sql);
    createSendLog(this.ctx.storage);
    return new SendIndex(readSends(this.sql));
  }

  /**
   * Decides the prefix (block, pumping signals, windows) and the number (windows, cooldown) at
   * once; a send is written (one row of the send log, which both count) only when neither
   * refuses, so a refusal consumes nothing here. Every refusal is answered, so the caller can name the first and wait the longest.
   */
  async admit(input: AdmitInput): Promise<AdmitDecision> {
    const request = AdmitInput.parse(input);
    const now = Date.now();
    const prefixKeepMs = Math.max(longestWindowMs(request.rules), request.pumping.windowSeconds * 1000, request.pumping.sequentialSeconds * 1000);
    const phoneKeepMs = request.phone ? longestWindowMs(request.phone.rules, request.phone.cooldown) : 0;
    // One log, one retention: the longer of the two (whatever this call's scopes, the log holds both).
    const keepMs = Math.max(prefixKeepMs, phoneKeepMs);
    const refusals: AdmitRefusal[] = [];
    const secondsUntil = (ms: number) => Math.ceil(ms / 1000);

    if (this.upkeep.shouldPrune(now, keepMs, SENDS)) this.prune(now - keepMs);
    if (request.prefixScope) {
      const refusal = await this.prefixRefusal(request, now);
      if (refusal) refusals.push(refusal);
    }
    if (request.phone) {
      const verdict = evaluateTimes(this.index.phoneTimes(request.numberKey), request.phone.rules, request.phone.cooldown, now);
      if (!verdict.allowed) refusals.push({ scope: 'phone', retryAfterSeconds: secondsUntil(verdict.retryAfterMs) });
    }
    if (refusals.length > 0) return { allowed: false, refusals };

    const row: SendRow = {
      at: now,
      requestId: request.requestId,
      numberKey: request.numberKey,
      blockKey: request.blockKey,
      prefixScope: request.prefixScope,
      phoneScope: request.phone !== undefined,
    };
    // The same request admitted again replaces its send, as it always did.
    const earlier = this.index.remove(row.requestId);
    if (earlier) deleteSend(this.sql, earlier);
    insertSend(this.sql, row);
    this.index.add(row);
    await this.upkeep.keep(keepMs, now + keepMs);
    const returning = request.returningSeconds !== undefined && isReturning(this.sql, request.numberKey, now, request.returningSeconds * 1000);
    return { allowed: true, returning };
  }

  /** Forgets sends at or before `olderThan`, in the log and its index alike; answers the newest left. */
  private prune(olderThan: number): number | null {
    this.index.prune(olderThan);
    return pruneEvents(this.sql, SENDS, olderThan);
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
    const verdict = evaluateWindows(this.sql, PREFIX_SENDS, request.rules, undefined, now);
    return verdict.allowed ? null : { scope: 'prefix', retryAfterSeconds: Math.ceil(verdict.retryAfterMs / 1000) };
  }

  /** Another scope denied the request: it was never sent, so it counts for nothing here. */
  async refund(requestId: string): Promise<void> {
    const row = this.index.remove(requestId);
    if (row) deleteSend(this.sql, row);
  }

  /**
   * One number's data erased: its sends (keyed by its hash), all of them or only those of the
   * given requests (one app's), answered as the sends the prefix counted and those the phone
   * counted (most rows are both). The prefix's limits and signals count them no more. Its memory
   * as a returning number goes either way: it names no app, and the number asked to be forgotten.
   */
  async erase(input: { numberKey: string; requestIds: string[] | null }): Promise<{ sends: number; phoneSends: number; verifiedNumbers: number }> {
    const { numberKey, requestIds } = z.object({ numberKey: z.string().min(8), requestIds: z.array(z.string()).nullable() }).parse(input);
    const erased = this.index.sendsOf(numberKey, requestIds);
    for (const row of erased) {
      this.index.remove(row.requestId);
      deleteSend(this.sql, row);
    }
    const verifiedNumbers = this.sql.exec(`DELETE FROM ${VERIFIED_NUMBERS} WHERE number_key = ?`, numberKey).rowsWritten;
    return { sends: erased.filter((row) => row.prefixScope).length, phoneSends: erased.filter((row) => row.phoneScope).length, verifiedNumbers };
  }

  /**
   * A code sent to this prefix was verified: its number (found by the send's request id) is
   * marked verified now, one row that is both the conversion signal and, with `returningSeconds`,
   * its memory as a returning number for that long.
   */
  async recordVerification(requestId: string, returningSeconds?: number): Promise<void> {
    const send = this.index.get(requestId);
    if (!send?.prefixScope) return;
    const now = Date.now();
    const keepMs = returningSeconds === undefined ? undefined : returningSeconds * 1000;
    await rememberVerified(this.ctx.storage, send.numberKey, now, keepMs);
    if (keepMs !== undefined) await this.upkeep.alarmBy(now + keepMs);
  }

  /** The block, and the sends the prefix counts (as kept: up to a day) and how many were verified. */
  async status(): Promise<{ block: PrefixBlock | null; sends: number; verified: number }> {
    const counts = conversion(this.sql, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    return { block: await this.activeBlock(Date.now()), sends: counts.sends, verified: counts.verified ?? 0 };
  }

  async lift(): Promise<PrefixBlock | null> {
    const block = await this.activeBlock(Date.now());
    await this.ctx.storage.delete(BLOCK_KEY);
    // Signals that led to an automatic block would block again at once: start counting afresh
    // (the numbers' own histories stay).
    forgetPrefixSends(this.sql);
    this.index = new SendIndex(readSends(this.sql));
    if (block) {
      logInfo('prefix.unblocked', { prefix: block.prefix, reason: block.reason });
      await markBlockLifted(this.env.DB, block.prefix, Date.now());
    }
    return block;
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    const keepMs = await this.upkeep.storedKeepMs();
    const newest = this.prune(now - keepMs);
    const block = await this.activeBlock(now);
    const verifiedUntil = await pruneVerified(this.ctx.storage, now);
    if (newest === null && !block && verifiedUntil === null) {
      await this.ctx.storage.deleteAll();
      this.upkeep.forget();
      this.index = this.createSchema();
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
