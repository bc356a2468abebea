import type { AppCaller } from '../apps/authenticate';
import { codeMatches } from '../codes';
import type { Config } from '../config';
import { timingSafeEqualStrings } from '../crypto';
import { countVerifyAttempt, getRequest, type OtpRequestRow } from '../db/requests';
import { type VerificationOutcome, verificationEventStatement } from '../db/verification-events';
import { ApiError } from '../errors';
import { scopesOf } from '../limiter/conversion-scopes';
import { holdLimit, prefixGuardFor, verifyFailureKey } from '../limiter/limiter-client';
import { noteLockedPhone, settleGuess } from '../limiter/phone-locks';
import { reportTo, scopeWatch, stepUpPolicyOf } from '../limiter/scope-watch';
import { errorName, logWarn } from '../log';
import { metricsFor } from '../metrics/metrics';
import { enqueueWebhookEvents } from '../webhooks/enqueue-events';
import { effectiveStatus } from './request-view';
import { requireSecret } from './required-secret';

/**
 * Checks a submitted code. Every terminal case has its own answer. The attempt is counted and,
 * for the right code, the request verified in one atomic D1 statement, so concurrent guesses
 * cannot exceed the limit. Failures are also counted per phone across requests (so asking for new
 * codes does not reset the guessing budget): the phone's budget lends each guess a unit, written
 * only when the guess turns out wrong.
 */
export async function verifyOtp(
  env: Env,
  config: Config,
  caller: AppCaller,
  input: { requestId: string; code: string },
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<OtpRequestRow> {
  const secret = requireSecret(config, 'OTP_SECRET', 'verify');
  // No code of any request has another form: refused before the request is even read.
  if (!/^[0-9]{4,8}$/.test(input.code)) refuseMalformedCode(input.code, config.otp.length);
  const now = Date.now();
  const request = await getRequest(env.DB, input.requestId);
  // Another app's request is answered exactly as a missing one: its existence is not the caller's to learn.
  if (!request || request.app_id !== caller.appId) throw new ApiError('not_found', 'No such request');
  const codeLength = request.code_length ?? config.otp.length;
  refuseMalformedCode(input.code, codeLength);

  const record = (outcome: VerificationOutcome) => {
    metricsFor(env).record({ metric: 'verification', outcome, appId: caller.appId });
    waitUntil(
      verificationEventStatement(env.DB, { requestId: request.id, phonePrefix: request.phone_prefix, outcome, at: Date.now() })
        .run()
        .catch((error) => logWarn('verify.event_not_recorded', { requestId: request.id, error: errorName(error) })),
    );
  };

  refuseFinished(request, now, config, record);

  const budgetKey = verifyFailureKey(request.phone_number);
  const phoneBudget = await holdLimit(env, budgetKey, config.limits.verifyFailures);
  if (!phoneBudget.allowed) {
    record('phone_locked');
    waitUntil(noteLockedPhone(env, request.phone_number, phoneBudget));
    throw new ApiError('too_many_attempts', 'Too many wrong codes for this phone number; try again later', {
      headers: { 'Retry-After': String(phoneBudget.retryAfterSeconds) },
    });
  }
  const settleBudget = (wrongGuess: boolean) =>
    waitUntil(
      // A wrong guess that spends the budget locks the phone: no more codes are sent to it meanwhile.
      settleGuess(env, config.limits.verifyFailures, request.phone_number, phoneBudget.holdId, wrongGuess).catch((error) =>
        logWarn('verify.failure_budget_not_settled', { requestId: request.id, error: errorName(error) }),
      ),
    );

  const matches = request.test_number
    ? await testCodeMatches(caller.settings.testNumbers.get(request.phone_number), input.code)
    : await codeMatches(secret, request.id, codeLength, input.code);
  let counted: Awaited<ReturnType<typeof countVerifyAttempt>>;
  try {
    counted = await countVerifyAttempt(env.DB, request.id, matches, now, config.otp.maxVerifyAttempts);
  } catch (error) {
    settleBudget(false);
    throw error;
  }
  if (!counted) {
    // Something changed since the read (a concurrent guess used the last attempt, or the
    // request was verified, superseded or expired): answer from its state now. No guess was
    // compared, so the phone's failure budget does not keep the unit.
    settleBudget(false);
    const current = (await getRequest(env.DB, request.id)) ?? request;
    refuseFinished(current, Date.now(), config, record);
    throw new ApiError('too_many_attempts', 'Too many wrong codes for this request; request a new code');
  }

  if (counted.status === 'verified') {
    settleBudget(false);
    // The app's webhook hears of it in the background: the answer never waits for the queue.
    if (counted.webhookEventIds.length > 0) waitUntil(enqueueWebhookEvents(env, counted.webhookEventIds));
    if (request.test_number) return { ...request, status: 'verified', verified_at: now, verify_attempts: counted.verify_attempts };
    // A verification is the conversion signal that tells real traffic from SMS pumping, for the
    // prefix (which also remembers the number as returning) and for the wider scopes.
    waitUntil(
      prefixGuardFor(env, request.phone_prefix)
        .recordVerification(request.id, config.stepUp.returningDays * 86_400)
        .catch((error) => logWarn('verify.conversion_not_recorded', { requestId: request.id, error: errorName(error) })),
    );
    const watch = scopeWatch();
    watch.note('verified', scopesOf(request.phone_number, request.app_id), request.created_at, config.stepUp.windowSeconds);
    watch.refreshIfDue(reportTo(env), stepUpPolicyOf(config), config.stepUp.refreshSeconds * 1000, waitUntil);
    return { ...request, status: 'verified', verified_at: now, verify_attempts: counted.verify_attempts };
  }

  settleBudget(true);
  record('invalid_code');
  const attemptsRemaining = Math.max(0, config.otp.maxVerifyAttempts - counted.verify_attempts);
  throw new ApiError('invalid_code', 'The code is not correct', { details: { attemptsRemaining } });
}

/** A test number's code is the fixed one in its app's settings now; a number taken off the list matches nothing. */
async function testCodeMatches(fixedCode: string | undefined, submitted: string): Promise<boolean> {
  return fixedCode !== undefined && (await timingSafeEqualStrings(fixedCode, submitted));
}

/**
 * A code that is not exactly `length` ASCII digits (the request's length, which its app chose)
 * can never match: it is refused before anything is counted, so a typo costs neither an attempt nor a unit of the phone's failure budget.
 * `[0-9]`, not `\d` with a Unicode flag: other scripts' digits are malformed too.
 */
function refuseMalformedCode(code: string, length: number) {
  if (code.length !== length || !/^[0-9]+$/.test(code)) {
    throw new ApiError('invalid_code_format', `code: must be exactly ${length} digits (0-9)`);
  }
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
