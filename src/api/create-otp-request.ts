import type { Config } from '../config';
import { sha256Hex } from '../crypto';
import { claimIdempotencyKeyStatements, findIdempotencyKey, isUniqueViolation } from '../db/idempotency';
import { clearEnqueued, getRequest, insertRequestStatements } from '../db/requests';
import { ApiError } from '../errors';
import { newRequestId } from '../ids';
import { admitSend, countryAllowed } from '../limiter/admission';
import { errorName, logError, logWarn } from '../log';
import { phonePrefix } from '../phone';
import { sendJob } from '../queue/messages';
import { rateLimitedError } from './rate-limit-headers';

export interface CreatedRequest {
  requestId: string;
  expiresAt: number;
  replayed: boolean;
}

/**
 * The whole of `POST /v1/otp` after validation: replay a known Idempotency-Key, admit the send
 * through the limiter, record the request, enqueue its job. The request row is written before
 * the job is enqueued, already marked as enqueued (saving a second write on every request); a
 * failed enqueue clears the mark, and the sweeper re-enqueues unmarked rows. Should clearing
 * fail too, the sweeper still re-enqueues the row once it has been queued untouched for a while.
 */
export async function createOtpRequest(
  env: Env,
  config: Config,
  input: { phoneNumber: string; idempotencyKey?: string; clientIp?: string },
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<CreatedRequest> {
  if (!countryAllowed(input.phoneNumber, config.limits.allowedCountryCodes)) {
    throw new ApiError('country_not_allowed', 'Codes cannot be sent to numbers in this country');
  }
  const now = Date.now();
  const fingerprint = input.idempotencyKey ? await sha256Hex(JSON.stringify({ phoneNumber: input.phoneNumber })) : '';
  if (input.idempotencyKey) {
    const replay = await replayIdempotencyKey(env, input.idempotencyKey, fingerprint, now);
    if (replay) return replay;
  }

  const requestId = newRequestId();
  let admission;
  try {
    admission = await admitSend(env, config, { requestId, phoneNumber: input.phoneNumber, clientIp: input.clientIp });
  } catch (error) {
    logError('limiter.unavailable', { error: errorName(error) });
    throw new ApiError('service_unavailable', 'Rate limiting is unavailable; try again shortly', { headers: { 'Retry-After': '5' } });
  }
  if (!admission.allowed && admission.reason === 'global_budget') {
    logWarn('limiter.global_budget_spent', { retryAfterSeconds: admission.retryAfterSeconds });
    throw new ApiError('service_unavailable', 'The service is at capacity; try again shortly', {
      headers: { 'Retry-After': String(admission.retryAfterSeconds) },
    });
  }
  if (!admission.allowed) throw rateLimitedError(admission.retryAfterSeconds, config.phoneLimits);

  const expiresAt = now + config.otp.ttlSeconds * 1000;
  const statements = [
    ...insertRequestStatements(env.DB, {
      id: requestId,
      phoneNumber: input.phoneNumber,
      phonePrefix: phonePrefix(input.phoneNumber),
      createdAt: now,
      expiresAt,
      enqueuedAt: now,
    }),
  ];
  if (input.idempotencyKey) {
    statements.unshift(...claimIdempotencyKeyStatements(env.DB, { key: input.idempotencyKey, fingerprint, requestId, now }));
  }
  try {
    await env.DB.batch(statements);
  } catch (error) {
    if (input.idempotencyKey && isUniqueViolation(error)) {
      // A concurrent call with the same key won the race: answer what it answered.
      const replay = await replayIdempotencyKey(env, input.idempotencyKey, fingerprint, now);
      if (replay) return replay;
    }
    logError('request.insert_failed', { error: errorName(error) });
    // Nothing was recorded, so nothing should count against the caller's limits.
    waitUntil(admission.release().catch(() => {}));
    throw new ApiError('service_unavailable', 'The request could not be recorded; try again shortly', { headers: { 'Retry-After': '5' } });
  }

  try {
    await env.SEND_QUEUE.send(sendJob(requestId));
  } catch (error) {
    // The request is recorded; without its enqueue mark the sweeper enqueues it within a minute or so.
    logError('request.enqueue_failed', { requestId, error: errorName(error) });
    waitUntil(clearEnqueued(env.DB, requestId).catch((clearError) => logWarn('request.clear_enqueued_failed', { requestId, error: errorName(clearError) })));
  }
  return { requestId, expiresAt, replayed: false };
}

async function replayIdempotencyKey(env: Env, key: string, fingerprint: string, now: number): Promise<CreatedRequest | null> {
  const existing = await findIdempotencyKey(env.DB, key, now);
  if (!existing) return null;
  if (existing.fingerprint !== fingerprint) {
    throw new ApiError('idempotency_key_conflict', 'This Idempotency-Key was already used with a different request body');
  }
  const request = await getRequest(env.DB, existing.request_id);
  if (!request) return null;
  return { requestId: request.id, expiresAt: request.expires_at, replayed: true };
}
