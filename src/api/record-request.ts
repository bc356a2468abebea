import type { AppCaller } from '../apps/authenticate';
import { testNumberSentStatements } from '../db/delivery-attempts';
import { completeIdempotencyKeyStatement } from '../db/idempotency-keys';
import { insertRequestStatements, requestInserted } from '../db/requests';
import { ApiError } from '../errors';
import { type RecordedRefusal, recordedRefusal } from '../limiter/recorded-refusal';
import { errorName, logError, logWarn } from '../log';
import { phonePrefix } from '../phone';

/** Seconds a caller is asked to wait before retrying a call that failed on a passing fault. */
export const FAULT_RETRY_SECONDS = '5';

export interface AdmittedRequest {
  requestId: string;
  phoneNumber: string;
  channel?: 'sms' | 'whatsapp' | 'auto';
  idempotencyKey?: string;
  createdAt: number;
  expiresAt: number;
  /** An app's test number's fixed code: recorded as sent at once, and never held back by blocks or locks. */
  testCode: string | undefined;
}

/** The request's rows were written (`written`: the batch's answers), or D1's record refused it. */
export type Recorded = { written: D1Result[] } | { refused: RecordedRefusal };

/**
 * Writes an admitted send's request in one D1 batch: the row (already marked enqueued, or for a
 * test number sent), the phone's older code superseded, the Idempotency-Key completed. The blocks
 * and locks on record are the insert's own condition, so an admitted send makes this one round
 * trip and no read beside it. When they held it back, one read of them says why (the rare path).
 * Whatever is not recorded gives the limiter admission back first (`release`), so it counts
 * against nothing; a D1 failure answers 503 `service_unavailable` naming the step.
 */
export async function recordAdmittedRequest(
  env: Env,
  caller: AppCaller,
  request: AdmittedRequest,
  release: () => Promise<void>,
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<Recorded> {
  const { requestId } = request;
  const testNumber = request.testCode !== undefined;
  // One moment for the insert's condition and the read of why it failed: an end in between cannot split them.
  const checkedAt = Date.now();
  const statements = insertRequestStatements(env.DB, {
    id: requestId,
    appId: caller.appId,
    codeLength: request.testCode?.length ?? caller.settings.otpLength,
    testNumber,
    ...(request.channel ? { channel: request.channel } : {}),
    phoneNumber: request.phoneNumber,
    phonePrefix: phonePrefix(request.phoneNumber),
    createdAt: request.createdAt,
    // A test number's request is done here: no job, so nothing for the sweeper to look for.
    enqueuedAt: testNumber ? undefined : request.createdAt,
    expiresAt: request.expiresAt,
    // An app's test number reaches no phone: nothing to block or lock (as at admission).
    ...(testNumber ? {} : { unlessBlockedOrLockedAt: checkedAt }),
  });
  // Recorded as sent, with an attempt that names no provider: its fixed code is already known.
  if (testNumber) statements.push(...testNumberSentStatements(env.DB, { requestId, now: request.createdAt }));
  if (request.idempotencyKey) statements.push(completeIdempotencyKeyStatement(env.DB, { appId: caller.appId, key: request.idempotencyKey, requestId }));

  let written: D1Result[];
  try {
    written = await env.DB.batch(statements);
  } catch (error) {
    logError('request.insert_failed', { error: errorName(error) });
    // Nothing was recorded, so nothing should count against the caller's limits.
    waitUntil(release().catch(() => {}));
    throw unavailable('The request could not be recorded in storage; try again shortly');
  }
  if (requestInserted(written)) return { written };

  let refused: RecordedRefusal | null;
  try {
    refused = await recordedRefusal(env.DB, request.phoneNumber, checkedAt);
  } catch (error) {
    logError('request.refusal_unread', { error: errorName(error) });
    waitUntil(release().catch(() => {}));
    throw unavailable('Prefix blocks and phone locks could not be read from storage; try again shortly');
  }
  // Given back before the answer, as the limiters' own refusals are: a retry finds its limits untouched.
  await release();
  if (refused) return { refused };
  // The block or lock was lifted between the two statements: nothing holds the number back any more.
  logWarn('request.hold_lifted', { requestId });
  throw new ApiError('service_unavailable', 'A block or lock on this number ended while the request was being recorded; try again', {
    headers: { 'Retry-After': '1' },
  });
}

const unavailable = (message: string) => new ApiError('service_unavailable', message, { headers: { 'Retry-After': FAULT_RETRY_SECONDS } });
