import { z } from 'zod';
import type { WindowRule } from './config';
import { rateLimiterFor, settleLimit, verifyFailureKey } from './limiter/limiter-client';
import type { LimitDecision } from './limiter/rate-limiter';
import { errorName, logWarn } from './log';
import { maskPhoneNumber } from './phone';

/**
 * Locked phones: those whose verification-failure budget (VERIFY_FAILURE_LIMITS, kept by the
 * RateLimiter object `verify-failures:<phone>`) is spent. A lock is written to D1 when a wrong
 * guess spends the budget, so that `POST /v1/otp` can refuse the phone (no SMS it could not use)
 * and operators can list and lift locks; objects cannot be listed. A row past its `locked_until`
 * means nothing: the budget allows guesses again by then.
 */
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

/**
 * Lifts a lock in force: the phone's failure budget starts afresh, then the record goes. Null when
 * the phone is not locked. Should the record's deletion fail, the lock is already lifted where it
 * is enforced for guesses, and the operator may simply lift it again.
 */
export async function liftPhoneLock(env: Env, phoneNumber: string, now: number): Promise<PhoneLock | null> {
  const lock = activeLockFrom(await activeLockStatement(env.DB, phoneNumber, now).all());
  if (!lock) return null;
  await rateLimiterFor(env, verifyFailureKey(phoneNumber)).clear();
  await env.DB.prepare('DELETE FROM phone_locks WHERE phone_number = ?1').bind(phoneNumber).run();
  return lock;
}

/**
 * Ends a guess's hold on the phone's failure budget (see `RateLimiter.hold`). A wrong guess that
 * spends the budget locks the phone.
 */
export async function settleGuess(env: Env, rules: WindowRule[], phoneNumber: string, holdId: number | undefined, wrongGuess: boolean): Promise<void> {
  const state = await settleLimit(env, verifyFailureKey(phoneNumber), rules, holdId, wrongGuess);
  if (!state?.spentUntil) return;
  logWarn('phone.locked', { phone: maskPhoneNumber(phoneNumber), failures: state.used, until: new Date(state.spentUntil).toISOString() });
  await lockPhone(env, { phoneNumber, failures: state.used, lockedUntil: state.spentUntil });
}

/**
 * The budget refused a guess: the phone is locked. Writes the lock again, in case writing it when
 * the budget became spent failed (or the record was deleted while the budget stayed spent).
 */
export async function noteLockedPhone(env: Env, phoneNumber: string, refusal: LimitDecision): Promise<void> {
  const now = Date.now();
  await lockPhone(env, { phoneNumber, failures: refusal.used ?? 0, lockedUntil: now + refusal.retryAfterSeconds * 1000 });
}

async function lockPhone(env: Env, lock: PhoneLock): Promise<void> {
  try {
    await recordPhoneLock(env.DB, lock, Date.now());
  } catch (error) {
    // Guesses stay refused by the budget itself; only sends to the phone and the operators' list lag.
    logWarn('phone_lock.not_recorded', { phone: maskPhoneNumber(lock.phoneNumber), error: errorName(error) });
  }
}
