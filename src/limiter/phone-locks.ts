import type { WindowRule } from '../config';
import { activeLockFrom, activeLockStatement, deletePhoneLock, type PhoneLock, recordPhoneLock } from '../db/phone-locks';
import { errorName, logWarn } from '../log';
import { maskPhoneNumber } from '../phone';
import { rateLimiterFor, settleLimit, verifyFailureKey } from './limiter-client';
import type { LimitDecision } from './rate-limiter';

/**
 * Locked phones: those whose verification-failure budget (VERIFY_FAILURE_LIMITS, kept by the
 * RateLimiter object `verify-failures:<phone>`) is spent. A lock is written to D1 when a wrong
 * guess spends the budget, so that `POST /v1/otp` can refuse the phone (no SMS it could not use)
 * and operators can list and lift locks; objects cannot be listed. A row past its `locked_until`
 * means nothing: the budget allows guesses again by then.
 */
export type { PhoneLock } from '../db/phone-locks';

/**
 * Lifts a lock in force: the phone's failure budget starts afresh, then the record goes. Null when
 * the phone is not locked. Should the record's deletion fail, the lock is already lifted where it
 * is enforced for guesses, and the operator may simply lift it again.
 */
export async function liftPhoneLock(env: Env, phoneNumber: string, now: number): Promise<PhoneLock | null> {
  const lock = activeLockFrom(await activeLockStatement(env.DB, phoneNumber, now).all());
  if (!lock) return null;
  await rateLimiterFor(env, verifyFailureKey(phoneNumber)).clear();
  await deletePhoneLock(env.DB, phoneNumber);
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
