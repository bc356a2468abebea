import { z } from 'zod';

/** Why a prefix is blocked: the PrefixGuard's two pumping signals, or an operator. */
export const BLOCK_REASONS = ['low_conversion', 'sequential_numbers', 'operator'] as const;
export type BlockReason = (typeof BLOCK_REASONS)[number];

export interface PrefixBlock {
  prefix: string;
  reason: BlockReason;
  note: string | null;
  blockedAt: number;
  until: number;
}

const BlockRow = z.object({
  prefix: z.string(),
  reason: z.enum(BLOCK_REASONS),
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

/**
 * "An active block covers the number", as a condition another statement embeds (the API's
 * request insert is written only without one). Its parameters are numbered from `firstParameter`
 * on: the statement binds `parameters` after its own.
 */
export function activeBlockCondition(phoneNumber: string, now: number, firstParameter: number): { sql: string; parameters: unknown[] } {
  const prefixes = leadingPrefixes(phoneNumber);
  const placeholders = prefixes.map((_, index) => `?${firstParameter + 1 + index}`).join(', ');
  return {
    sql: `EXISTS (SELECT 1 FROM prefix_blocks WHERE prefix IN (${placeholders}) AND lifted_at IS NULL AND until > ?${firstParameter})`,
    parameters: [now, ...prefixes],
  };
}

export function activeBlockFrom(result: D1Result): PrefixBlock | null {
  const row = result.results[0];
  return row ? toBlock(row) : null;
}

export async function listActiveBlocks(db: D1Database, now: number): Promise<PrefixBlock[]> {
  const { results } = await db
    .prepare(
      `SELECT prefix, reason, note, blocked_at, until FROM prefix_blocks
       WHERE lifted_at IS NULL AND until > ?1 ORDER BY blocked_at DESC LIMIT 500`,
    )
    .bind(now)
    .all();
  return results.map(toBlock);
}

/** An operator's block, replacing whatever the prefix had. */
export async function recordOperatorBlock(db: D1Database, block: PrefixBlock): Promise<void> {
  await db
    .prepare(
      `INSERT INTO prefix_blocks (prefix, reason, note, blocked_at, until) VALUES (?1, 'operator', ?2, ?3, ?4)
       ON CONFLICT (prefix) DO UPDATE SET reason = 'operator', note = ?2, blocked_at = ?3, until = ?4, lifted_at = NULL`,
    )
    .bind(block.prefix, block.note, block.blockedAt, block.until)
    .run();
}

/** An automatic block's mirror; a longer block already on record (e.g. an operator's) is kept. */
export async function mirrorAutomaticBlock(db: D1Database, block: PrefixBlock): Promise<void> {
  await db
    .prepare(
      `INSERT INTO prefix_blocks (prefix, reason, note, blocked_at, until) VALUES (?1, ?2, ?3, ?4, ?5)
       ON CONFLICT (prefix) DO UPDATE SET reason = ?2, note = ?3, blocked_at = ?4, until = ?5, lifted_at = NULL
       WHERE prefix_blocks.lifted_at IS NOT NULL OR prefix_blocks.until < ?5`,
    )
    .bind(block.prefix, block.reason, block.note, block.blockedAt, block.until)
    .run();
}

/** Lifts the prefix's block in force, returning it; null when it had none. */
export async function liftActiveBlock(db: D1Database, prefix: string, now: number): Promise<PrefixBlock | null> {
  const row = await db
    .prepare(
      `UPDATE prefix_blocks SET lifted_at = ?1 WHERE prefix = ?2 AND lifted_at IS NULL AND until > ?1
       RETURNING prefix, reason, note, blocked_at, until`,
    )
    .bind(now, prefix)
    .first();
  return row ? toBlock(row) : null;
}

/** Marks the prefix's record lifted, whatever it holds (the object lifted its own block). */
export async function markBlockLifted(db: D1Database, prefix: string, now: number): Promise<void> {
  await db.prepare('UPDATE prefix_blocks SET lifted_at = ?1 WHERE prefix = ?2').bind(now, prefix).run();
}
