import { z } from 'zod';
import { prefixGuardFor } from './limiter/limiter-client';
import type { PrefixBlock } from './limiter/prefix-guard';
import { logError, logInfo } from './log';
import { PREFIX_DIGITS, phonePrefix } from './phone';

export type { PrefixBlock } from './limiter/prefix-guard';

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

const BlockRow = z.object({
  prefix: z.string(),
  reason: z.enum(['low_conversion', 'sequential_numbers', 'operator']),
  note: z.string().nullable(),
  blocked_at: z.number(),
  until: z.number(),
});

const toBlock = (row: unknown): PrefixBlock => {
  const parsed = BlockRow.parse(row);
  return { prefix: parsed.prefix, reason: parsed.reason, note: parsed.note, blockedAt: parsed.blocked_at, until: parsed.until };
};

/** `+4479123` → `+4`, `+44`, …, `+4479123`: every prefix a block covering the number may have. */
export function leadingPrefixes(phoneNumber: string): string[] {
  return Array.from({ length: phoneNumber.length - 1 }, (_, index) => phoneNumber.slice(0, index + 2));
}

/** The longest-lasting active block covering the number, as one statement (admission batches it). */
export function activeBlockStatement(db: D1Database, phoneNumber: string, now: number): D1PreparedStatement {
  const prefixes = leadingPrefixes(phoneNumber);
  return db
    .prepare(
      `SELECT prefix, reason, note, blocked_at, until FROM prefix_blocks
       WHERE prefix IN (${prefixes.map((_, index) => `?${index + 2}`).join(', ')}) AND lifted_at IS NULL AND until > ?1
       ORDER BY until DESC LIMIT 1`,
    )
    .bind(now, ...prefixes);
}

export function activeBlockFrom(result: D1Result): PrefixBlock | null {
  const row = result.results[0];
  return row ? toBlock(row) : null;
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
      const { results } = await env.DB.prepare(
        `SELECT prefix, reason, note, blocked_at, until FROM prefix_blocks
         WHERE lifted_at IS NULL AND until > ?1 ORDER BY blocked_at DESC LIMIT 500`,
      )
        .bind(Date.now())
        .all();
      return results.map(toBlock);
    },
    async block({ prefix, seconds, note }) {
      const now = Date.now();
      const block: PrefixBlock = { prefix, reason: 'operator', note: note ?? null, blockedAt: now, until: now + seconds * 1000 };
      await env.DB.prepare(
        `INSERT INTO prefix_blocks (prefix, reason, note, blocked_at, until) VALUES (?1, 'operator', ?2, ?3, ?4)
         ON CONFLICT (prefix) DO UPDATE SET reason = 'operator', note = ?2, blocked_at = ?3, until = ?4, lifted_at = NULL`,
      )
        .bind(prefix, block.note, now, block.until)
        .run();
      logError('prefix.blocked', { prefix, reason: 'operator', note: block.note, until: new Date(block.until).toISOString() });
      return block;
    },
    async lift(prefix) {
      // Only a prefix of at most the limiter's length has an object that may hold an automatic block.
      const automatic = prefix.length - 1 <= PREFIX_DIGITS ? await prefixGuardFor(env, prefix).lift() : null;
      const now = Date.now();
      const row = await env.DB.prepare(
        `UPDATE prefix_blocks SET lifted_at = ?1 WHERE prefix = ?2 AND lifted_at IS NULL AND until > ?1
         RETURNING prefix, reason, note, blocked_at, until`,
      )
        .bind(now, prefix)
        .first();
      // The object logs the automatic blocks it lifts itself.
      if (row) logInfo('prefix.unblocked', { prefix, reason: BlockRow.shape.reason.parse(row.reason) });
      return row ? toBlock(row) : automatic;
    },
  };
}
