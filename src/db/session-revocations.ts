import { sha256Hex } from '../crypto';

/**
 * Revoked sessions (migration 0008). Creating and reading a session writes nothing; checking one
 * is a single read of two primary keys, made on every request that relies on it and never cached,
 * so a revoked session is refused on the very next request. Each revocation also clears up to
 * PURGE_ROWS rows whose cookies have expired by themselves, which keeps both tables small.
 */

const PURGE_ROWS = 100;

/** Like the limiter objects, the phone's sessions are keyed by a hash: no number is stored. */
export const phoneHash = (phoneNumber: string) => sha256Hex(`session-phone:${phoneNumber}`);

export async function isSessionRevoked(db: D1Database, session: { sessionId: string; phoneNumber: string; issuedAt: number }): Promise<boolean> {
  const row = await db
    .prepare(
      `SELECT EXISTS (SELECT 1 FROM revoked_sessions WHERE session_id = ?1)
           OR EXISTS (SELECT 1 FROM phone_session_revocations WHERE phone_hash = ?2 AND revoked_before >= ?3) AS revoked`,
    )
    .bind(session.sessionId, await phoneHash(session.phoneNumber), session.issuedAt)
    .first<{ revoked: number }>();
  return row?.revoked === 1;
}

/** Logout: this one session is refused from now on, until it would have expired anyway. */
export async function revokeSession(db: D1Database, session: { sessionId: string; expiresAt: number }, now: number): Promise<void> {
  await db.batch([
    db
      .prepare('INSERT INTO revoked_sessions (session_id, expires_at) VALUES (?1, ?2) ON CONFLICT (session_id) DO NOTHING')
      .bind(session.sessionId, session.expiresAt),
    db
      .prepare(
        `DELETE FROM revoked_sessions WHERE session_id IN
           (SELECT session_id FROM revoked_sessions WHERE expires_at <= ?1 LIMIT ?2)`,
      )
      .bind(now, PURGE_ROWS),
  ]);
}

/**
 * Every session of the phone issued up to `now` is refused from now on; sessions issued later
 * are not. `longestSessionMs` bounds how long a session issued before now can live.
 */
export async function revokePhoneSessions(db: D1Database, phoneNumber: string, now: number, longestSessionMs: number): Promise<void> {
  await db.batch([
    db
      .prepare(
        `INSERT INTO phone_session_revocations (phone_hash, revoked_before, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (phone_hash) DO UPDATE SET
           revoked_before = MAX(revoked_before, excluded.revoked_before),
           expires_at = MAX(expires_at, excluded.expires_at)`,
      )
      .bind(await phoneHash(phoneNumber), now, now + longestSessionMs),
    db
      .prepare(
        `DELETE FROM phone_session_revocations WHERE phone_hash IN
           (SELECT phone_hash FROM phone_session_revocations WHERE expires_at <= ?1 LIMIT ?2)`,
      )
      .bind(now, PURGE_ROWS),
  ]);
}
