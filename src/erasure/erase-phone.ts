import { type ErasureRecord, erasedCounts, eraseStatements, insertErasureStatement, requestIdsFor } from '../db/erasures';
import { sendFingerprint } from '../db/idempotency-keys';
import { phoneHash } from '../db/session-revocations';
import { newErasureId } from '../ids';
import { numberKeyOf, prefixGuardFor, rateLimiterFor, verifyFailureKey } from '../limiter/limiter-client';
import { logInfo } from '../log';
import { maskPhoneNumber, phonePrefix } from '../phone';

export type { ErasureRecord } from '../db/erasures';

export interface ErasureOrder {
  phoneNumber: string;
  /** Only this app's requests for the number; null: everything held for it, for every app. */
  appId: string | null;
  /** An operator's name, or the key id of the app's secret key that asked. */
  actor: string;
}

/**
 * Erases everything held for one phone number (docs/operators.md#erasing-one-persons-data): its
 * requests and every row about them in D1, in one batch; then its rows in the limiter objects
 * (the PrefixGuard's send logs, keyed by a hash of the number, and the RateLimiter that counts its
 * wrong guesses); then records who asked, when, for which app and how many rows went, without
 * the number. Repeating it is harmless: it finds nothing, and is recorded again. A queued send of
 * an erased request finds its row gone and is dropped unsent (consumer/settle-send-jobs.ts).
 *
 * An app's erasure reaches only rows of its own requests; what the service keeps for the number
 * across apps (a phone lock, session revocations, operators' resend filters, the wrong-guess
 * count) is an operator's to erase, since it protects every app.
 */
export async function erasePhone(env: Env, order: ErasureOrder, now = Date.now()): Promise<ErasureRecord> {
  const { phoneNumber, appId } = order;
  const [fingerprint, sessionHash, numberKey] = await Promise.all([sendFingerprint(phoneNumber), phoneHash(phoneNumber), numberKeyOf(phoneNumber)]);
  // Read before the rows go: the limiter keeps one app's sends by request id only.
  const requestIds = appId === null ? null : await requestIdsFor(env.DB, phoneNumber, appId);
  const results = await env.DB.batch(eraseStatements(env.DB, { phoneNumber, appId, fingerprint, sessionHash, masked: maskPhoneNumber(phoneNumber) }));
  const rows = erasedCounts(results);

  const limiter = await prefixGuardFor(env, phonePrefix(phoneNumber)).erase({ numberKey, requestIds });
  rows['limiter.sends'] = limiter.sends;
  rows['limiter.phone_sends'] = limiter.phoneSends;
  rows['limiter.verified_numbers'] = limiter.verifiedNumbers;
  if (appId === null) rows['limiter.verify_failures'] = await rateLimiterFor(env, verifyFailureKey(phoneNumber)).erase();

  const record: ErasureRecord = { id: newErasureId(), at: now, actor: order.actor, appId, rows };
  await insertErasureStatement(env.DB, record).run();
  const total = Object.values(rows).reduce((sum, count) => sum + count, 0);
  logInfo('erasure.done', { erasureId: record.id, appId, actor: order.actor, rows: total });
  return record;
}
