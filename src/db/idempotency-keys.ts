import { z } from 'zod';
import { sha256Hex } from '../crypto';

/** How long a client's Idempotency-Key keeps answering with the original request. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * How long a claimed key waits for its request to be recorded. Creating one takes well under a
 * second; a claim still pending after this was left by a call that crashed, and may be taken over.
 */
export const CLAIM_TTL_MS = 30_000;

/** A send's body as a key remembers it: a hash of the number, so one key cannot replay for another. */
export const sendFingerprint = (phoneNumber: string) => sha256Hex(JSON.stringify({ phoneNumber }));

const KeyRow = z.object({ fingerprint: z.string(), request_id: z.string(), pending_until: z.number().nullable() });

/** What claiming a key found: it is ours now, or another call holds it (done, or still creating its request). */
export type KeyClaim = { kind: 'claimed' } | { kind: 'done'; fingerprint: string; requestId: string } | { kind: 'pending'; fingerprint: string };

/**
 * Keys are scoped per app: the same key from two apps names two requests.
 *
 * Claims a key before its request is admitted, in one atomic statement: a new key is inserted as
 * pending; a key past its window, a pending claim past `pending_until`, or a done key whose
 * request is gone (retention) is taken over; any other holder is answered, so concurrent calls
 * with one key never both reach admission.
 */
export async function claimIdempotencyKey(
  db: D1Database,
  claim: { appId: string; key: string; fingerprint: string; requestId: string; now: number },
): Promise<KeyClaim> {
  const taken = await db
    .prepare(
      `INSERT INTO idempotency_keys (key, fingerprint, request_id, created_at, pending_until, app_id) VALUES (?1, ?2, ?3, ?4, ?5, ?7)
       ON CONFLICT (app_id, key) DO UPDATE SET fingerprint = ?2, request_id = ?3, created_at = ?4, pending_until = ?5
       WHERE idempotency_keys.created_at <= ?6 OR idempotency_keys.pending_until <= ?4
          OR (idempotency_keys.pending_until IS NULL AND NOT EXISTS (SELECT 1 FROM otp_requests WHERE id = idempotency_keys.request_id))
       RETURNING request_id`,
    )
    .bind(claim.key, claim.fingerprint, claim.requestId, claim.now, claim.now + CLAIM_TTL_MS, claim.now - IDEMPOTENCY_WINDOW_MS, claim.appId)
    .first<{ request_id: string }>();
  if (taken?.request_id === claim.requestId) return { kind: 'claimed' };

  const row = await db
    .prepare('SELECT fingerprint, request_id, pending_until FROM idempotency_keys WHERE app_id = ?2 AND key = ?1')
    .bind(claim.key, claim.appId)
    .first();
  // Released between the two statements: its owner failed, so a retry may take it at once.
  if (!row) return { kind: 'pending', fingerprint: claim.fingerprint };
  const holder = KeyRow.parse(row);
  if (holder.pending_until === null) return { kind: 'done', fingerprint: holder.fingerprint, requestId: holder.request_id };
  return { kind: 'pending', fingerprint: holder.fingerprint };
}

/**
 * Marks the claim done; batched after the request's insert, so the key and its request are written
 * together. Only when the insert wrote the row (a block or lock may hold it back): otherwise the
 * claim stays pending and is released with the refusal, as for any refused request.
 */
export function completeIdempotencyKeyStatement(db: D1Database, claim: { appId: string; key: string; requestId: string }): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE idempotency_keys SET pending_until = NULL WHERE app_id = ?3 AND key = ?1 AND request_id = ?2
       AND EXISTS (SELECT 1 FROM otp_requests WHERE id = ?2)`,
    )
    .bind(claim.key, claim.requestId, claim.appId);
}

/** Gives a pending claim up (its request was refused or could not be recorded), so a retry can proceed at once. */
export async function releaseIdempotencyKey(db: D1Database, claim: { appId: string; key: string; requestId: string }): Promise<void> {
  await db
    .prepare('DELETE FROM idempotency_keys WHERE app_id = ?3 AND key = ?1 AND request_id = ?2 AND pending_until IS NOT NULL')
    .bind(claim.key, claim.requestId, claim.appId)
    .run();
}

export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && /UNIQUE constraint failed/i.test(error.message);
}
