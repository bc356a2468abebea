import { z } from 'zod';

/** A phone whose verification-failure budget is spent, until `lockedUntil` (see `limiter/phone-locks.ts`). */
export interface PhoneLock {
  phoneNumber: string;
  failures: number;
  lockedUntil: number;
}

const LockRow = z.object({ phone_number: z.string(), failures: z.number(), locked_until: z.number() });

const toLock = (row: unknown): PhoneLock => {
  const parsed = LockRow.parse(row);
  return { phoneNumber: parsed.phone_number, failures: parsed.failures, lockedUntil: parsed.locked_until };
};

const ACTIVE_LOCK = 'SELECT phone_number, failures, locked_until FROM phone_locks WHERE phone_number = ?1 AND locked_until > ?2';

/** The phone's lock if it is in force, as one statement (admission batches it). */
export function activeLockStatement(db: D1Database, phoneNumber: string, now: number): D1PreparedStatement {
  return db.prepare(ACTIVE_LOCK).bind(phoneNumber, now);
}

/**
 * "The phone is locked", as a condition another statement embeds (the API's request insert is
 * written only without one). Its parameters are numbered from `firstParameter` on: the statement
 * binds `parameters` after its own.
 */
export function activeLockCondition(phoneNumber: string, now: number, firstParameter: number): { sql: string; parameters: unknown[] } {
  return {
    sql: `EXISTS (SELECT 1 FROM phone_locks WHERE phone_number = ?${firstParameter} AND locked_until > ?${firstParameter + 1})`,
    parameters: [phoneNumber, now],
  };
}

export function activeLockFrom(result: D1Result): PhoneLock | null {
  const row = result.results[0];
  return row ? toLock(row) : null;
}

/** Writes (or renews) a lock; locks that ended are deleted on the way, so ended rows do not pile up. */
export async function recordPhoneLock(db: D1Database, lock: PhoneLock, now: number): Promise<void> {
  await db.batch([
    db.prepare('DELETE FROM phone_locks WHERE locked_until <= ?1').bind(now),
    db
      .prepare(
        `INSERT INTO phone_locks (phone_number, failures, locked_at, locked_until) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (phone_number) DO UPDATE SET failures = ?2, locked_at = ?3, locked_until = ?4`,
      )
      .bind(lock.phoneNumber, lock.failures, now, lock.lockedUntil),
  ]);
}

export async function listActivePhoneLocks(db: D1Database, now: number): Promise<PhoneLock[]> {
  const { results } = await db
    .prepare('SELECT phone_number, failures, locked_until FROM phone_locks WHERE locked_until > ?1 ORDER BY locked_until DESC LIMIT 500')
    .bind(now)
    .all();
  return results.map(toLock);
}

export async function deletePhoneLock(db: D1Database, phoneNumber: string): Promise<void> {
  await db.prepare('DELETE FROM phone_locks WHERE phone_number = ?1').bind(phoneNumber).run();
}
