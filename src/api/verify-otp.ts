import { codeMatches } from '../codes';
import { type Config, otpSecretFor } from '../config';
import { type OtpRequestRow, getRequest } from '../db/requests';
import { type VerificationOutcome, verificationEventStatement } from '../db/verification-events';
import { ApiError } from '../errors';
import { consumeLimit, prefixGuardFor, refundLimit, verifyFailureKey } from '../limiter/limiter-client';
import { errorName, logError, logWarn } from '../log';
import { effectiveStatus } from './request-view';

/** Statuses in which a code can still be checked (a `failed` send may still have reached the phone). */
const CHECKABLE = "('queued', 'sending', 'sent', 'delivered', 'failed')";

/**
 * Checks a submitted code. Every terminal case has its own answer; attempts are counted in D1
 * before the comparison (so concurrent guesses cannot exceed the limit), and failures are also
 * counted per phone across requests (so asking for new codes does not reset the guessing budget).
 */
export async function verifyOtp(
  env: Env,
  config: Config,
  input: { requestId: string; code: string },
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<OtpRequestRow> {
  const secret = otpSecretFor(config);
  if (!secret) {
    logError('config.missing_secret', { secret: 'OTP_SECRET', path: 'verify' });
    throw new ApiError('configuration_error', 'The service is misconfigured; the operator has been told why in the logs');
  }
  const now = Date.now();
  const request = await getRequest(env.DB, input.requestId);
  if (!request) throw new ApiError('not_found', 'No such request');

  const record = (outcome: VerificationOutcome) =>
    waitUntil(
      verificationEventStatement(env.DB, { requestId: request.id, phonePrefix: request.phone_prefix, outcome, at: Date.now() })
        .run()
        .catch((error) => logWarn('verify.event_not_recorded', { requestId: request.id, error: errorName(error) })),
    );

  refuseFinished(request, now, config, record);

  const phoneBudget = await consumeLimit(env, verifyFailureKey(request.phone_number), config.verifyFailureLimits);
  if (!phoneBudget.allowed) {
    record('phone_locked');
    throw new ApiError('too_many_attempts', 'Too many wrong codes for this phone number; try again later', {
      headers: { 'Retry-After': String(phoneBudget.retryAfterSeconds) },
    });
  }

  const counted = await env.DB.prepare(
    `UPDATE otp_requests SET verify_attempts = verify_attempts + 1, updated_at = ?1
     WHERE id = ?2 AND verify_attempts < ?3 AND status IN ${CHECKABLE} AND expires_at > ?1
     RETURNING verify_attempts`,
  )
    .bind(now, request.id, config.otp.maxVerifyAttempts)
    .first<{ verify_attempts: number }>();
  if (!counted) {
    // Something changed since the read (a concurrent guess used the last attempt, or the
    // request was verified, superseded or expired): answer from its state now. No guess was
    // compared, so the phone's failure budget gets its unit back.
    waitUntil(refundLimit(env, verifyFailureKey(request.phone_number), phoneBudget.eventId).catch(() => {}));
    const current = (await getRequest(env.DB, request.id)) ?? request;
    refuseFinished(current, Date.now(), config, record);
    throw new ApiError('too_many_attempts', 'Too many wrong codes for this request; request a new code');
  }

  if (await codeMatches(secret, request.id, config.otp.length, input.code)) {
    const verifiedAt = Date.now();
    const [update] = await env.DB.batch([
      env.DB.prepare(
        `UPDATE otp_requests SET status = 'verified', verified_at = ?1, updated_at = ?1
         WHERE id = ?2 AND status IN ${CHECKABLE}`,
      ).bind(verifiedAt, request.id),
      verificationEventStatement(env.DB, { requestId: request.id, phonePrefix: request.phone_prefix, outcome: 'verified', at: verifiedAt }),
    ]);
    if (!update?.meta.changes) throw new ApiError('already_verified', 'This code was already used');
    // A correct code is not a failure: give back the unit the phone's failure budget lent it.
    waitUntil(refundLimit(env, verifyFailureKey(request.phone_number), phoneBudget.eventId).catch(() => {}));
    // And it is the conversion signal that tells real traffic from SMS pumping.
    waitUntil(
      prefixGuardFor(env, request.phone_prefix)
        .recordVerification(request.id)
        .catch((error) => logWarn('verify.conversion_not_recorded', { requestId: request.id, error: errorName(error) })),
    );
    return { ...request, status: 'verified', verified_at: verifiedAt };
  }

  record('invalid_code');
  const attemptsRemaining = Math.max(0, config.otp.maxVerifyAttempts - counted.verify_attempts);
  throw new ApiError('invalid_code', 'The code is not correct', { details: { attemptsRemaining } });
}

/** Throws the answer for a request whose code can no longer be checked. */
function refuseFinished(request: OtpRequestRow, now: number, config: Config, record: (outcome: VerificationOutcome) => void) {
  const status = effectiveStatus(request, now);
  if (status === 'verified') {
    record('already_verified');
    throw new ApiError('already_verified', 'This code was already used');
  }
  if (status === 'superseded') {
    record('superseded');
    throw new ApiError('superseded', 'A newer code was requested for this phone number; use that one');
  }
  // A failed send keeps its status past expiry (its code may have arrived), so check the time too.
  if (status === 'expired' || request.expires_at <= now) {
    record('expired');
    throw new ApiError('expired', 'This code has expired; request a new one');
  }
  if (request.verify_attempts >= config.otp.maxVerifyAttempts) {
    record('too_many_attempts');
    throw new ApiError('too_many_attempts', 'Too many wrong codes for this request; request a new code');
  }
}
