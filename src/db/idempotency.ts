import { z } from 'zod';

/** How long a client's Idempotency-Key keeps answering with the original request. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

const IdempotencyRow = z.object({ fingerprint: z.string(), request_id: z.string(), created_at: z.number() });
export type IdempotencyRow = z.infer<typeof IdempotencyRow>;

export async function findIdempotencyKey(db: D1Database, key: string, now: number): Promise<IdempotencyRow | null> {
  const row = await db
    .prepare('SELECT fingerprint, request_id, created_at FROM idempotency_keys WHERE key = ?1 AND created_at > ?2')
    .bind(key, now - IDEMPOTENCY_WINDOW_MS)
    .first();
  return row ? IdempotencyRow.parse(row) : null;
}

/**
 * Claims a key inside the same D1 batch as the request insert. A key older than the window is
 * dropped first; a live one makes the INSERT fail, which rolls the whole batch back, so two
 * concurrent calls with one key can never both create a request.
 */
export function claimIdempotencyKeyStatements(
  db: D1Database,
  claim: { key: string; fingerprint: string; requestId: string; now: number },
): D1PreparedStatement[] {
  return [
    db.prepare('DELETE FROM idempotency_keys WHERE key = ?1 AND created_at <= ?2').bind(claim.key, claim.now - IDEMPOTENCY_WINDOW_MS),
    db
      .prepare('INSERT INTO idempotency_keys (key, fingerprint, request_id, created_at) VALUES (?1, ?2, ?3, ?4)')
      .bind(claim.key, claim.fingerprint, claim.requestId, claim.now),
  ];
}

export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && /UNIQUE constraint failed/i.test(error.message);
}
