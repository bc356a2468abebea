import { activeBlockFrom, activeBlockStatement, liftActiveBlock, listActiveBlocks, type PrefixBlock, recordOperatorBlock } from '../db/prefix-blocks';
import { logError, logInfo } from '../log';
import { PREFIX_DIGITS, phonePrefix } from '../phone';
import { prefixGuardFor } from './limiter-client';

export type { PrefixBlock } from '../db/prefix-blocks';

/**
 * Destination-prefix blocks as the rest of the Worker sees them. Automatic blocks are set and
 * enforced by the PrefixGuard object of a 5-digit prefix and mirrored to D1. Operator blocks may
 * have any length (a country code, a range, one number), which no single object could enforce, so
 * they live in D1 only; a number is checked against every prefix it starts with in one indexed
 * read (`activeBlockStatement`), which catches mirrored automatic blocks too.
 */
export interface PrefixBlocks {
  /** For operator resends: whether any block, of any length, covers the number. */
  isBlocked(phoneNumber: string): Promise<boolean>;
  listActive(): Promise<PrefixBlock[]>;
  /** An operator's block: it covers every number that starts with `prefix`. */
  block(input: { prefix: string; seconds: number; note?: string }): Promise<PrefixBlock>;
  /** Lifts the prefix's block, automatic or operator; null when it had none. */
  lift(prefix: string): Promise<PrefixBlock | null>;
}

export function prefixBlocksFor(env: Env): PrefixBlocks {
  return {
    async isBlocked(phoneNumber) {
      const [recorded, guarded] = await Promise.all([
        activeBlockStatement(env.DB, phoneNumber, Date.now()).all(),
        // An automatic block whose mirroring to D1 failed is still in force in its object.
        prefixGuardFor(env, phonePrefix(phoneNumber)).status(),
      ]);
      return activeBlockFrom(recorded) !== null || guarded.block !== null;
    },
    async listActive() {
      return listActiveBlocks(env.DB, Date.now());
    },
    async block({ prefix, seconds, note }) {
      const now = Date.now();
      const block: PrefixBlock = { prefix, reason: 'operator', note: note ?? null, blockedAt: now, until: now + seconds * 1000 };
      await recordOperatorBlock(env.DB, block);
      logError('prefix.blocked', { prefix, reason: 'operator', note: block.note, until: new Date(block.until).toISOString() });
      return block;
    },
    async lift(prefix) {
      // Only a prefix of at most the limiter's length has an object that may hold an automatic block.
      const automatic = prefix.length - 1 <= PREFIX_DIGITS ? await prefixGuardFor(env, prefix).lift() : null;
      const now = Date.now();
      const lifted = await liftActiveBlock(env.DB, prefix, now);
      // The object logs the automatic blocks it lifts itself.
      if (lifted) logInfo('prefix.unblocked', { prefix, reason: lifted.reason });
      return lifted ?? automatic;
    },
  };
}
