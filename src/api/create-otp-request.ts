import type { AppCaller } from '../apps/authenticate';
import type { Config } from '../config';
import { markSignalThrottled } from '../db/alert-signals';
import { claimIdempotencyKey, releaseIdempotencyKey, sendFingerprint } from '../db/idempotency-keys';
import { clearEnqueued, getRequest } from '../db/requests';
import { ApiError } from '../errors';
import { newRequestId } from '../ids';
import { AdmissionUnavailableError, admitSend, type RefusalReason, type SendToAdmit } from '../limiter/admission';
import { scopesOf } from '../limiter/conversion-scopes';
import { reportTo, scopeWatch, stepUpPolicyOf } from '../limiter/scope-watch';
import { errorName, logError, logWarn } from '../log';
import { metricsFor } from '../metrics/metrics';
import { isSandboxTestNumber } from '../providers/sandbox';
import { sendJob } from '../queue/messages';
import { enqueueWrittenEvents } from '../webhooks/enqueue-events';
import { refusedSendError } from './rate-limit-headers';
import { FAULT_RETRY_SECONDS, recordAdmittedRequest } from './record-request';
import { refuseDestination } from './refuse-destination';

export interface CreatedRequest {
  requestId: string;
  expiresAt: number;
  replayed: boolean;
}

/**
 * The whole of `POST /v1/otp` after validation and the caller's key: claim the Idempotency-Key (or replay what it
 * answered), admit the send through the limiters, record the request unless a block or lock on
 * record holds it back (one D1 batch, record-request.ts), enqueue its job. The key is
 * claimed before admission so that concurrent calls with it wait for the first (409
 * `request_in_progress`) instead of each being admitted or refused on their own; a claim whose
 * request was refused or not recorded is released at once. The request row is written before the
 * job is enqueued, already marked as enqueued (saving a second write on every request); a failed
 * enqueue clears the mark, and the sweeper re-enqueues unmarked rows. Should clearing fail too,
 * the sweeper still re-enqueues the row once it has been queued untouched for a while.
 */
export async function createOtpRequest(
  env: Env,
  config: Config,
  caller: AppCaller,
  input: {
    phoneNumber: string;
    channel?: 'sms' | 'whatsapp' | 'auto';
    idempotencyKey?: string;
    clientIp?: string;
    /** A check a new request must pass before admission (Turnstile); a replay of a key is not asked again. */
    gate?: (() => Promise<void>) | null;
    /** The Turnstile check of a browser send in a stepped-up scope (see stepUpTurnstileCheck). */
    stepUpCheck?: (() => Promise<boolean>) | null;
  },
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<CreatedRequest> {
  const testCode = caller.settings.testNumbers.get(input.phoneNumber);
  // An app's test numbers and the sandbox's reach no real phone, and are often fictional ranges.
  // The number's ISO country from the one parse the destination check makes (null: not checked).
  let country: string | null = null;
  if (testCode === undefined && !(config.provider.mode === 'sandbox' && isSandboxTestNumber(input.phoneNumber))) {
    try {
      country = refuseDestination(input.phoneNumber, caller.settings.destinations);
    } catch (error) {
      if (error instanceof ApiError) metricsFor(env).record({ metric: 'denial', reason: error.code, appId: caller.appId });
      throw error;
    }
  }
  const now = Date.now();
  const requestId = newRequestId();
  const key = input.idempotencyKey;
  const appId = caller.appId;
  if (key) {
    const replay = await claimOrReplay(env, { appId, key, phoneNumber: input.phoneNumber, requestId, now });
    if (replay) return replay;
  }
  try {
    if (input.gate) await input.gate();
    const scopes = testCode === undefined ? scopesOf(input.phoneNumber, appId, country) : [];
    const steppedUp = scopes.length > 0 ? await steppedUpScope(env, config, scopes, waitUntil) : null;
    // An app that requires Turnstile checked the token above already.
    const turnstilePassed = Boolean(input.gate) || (steppedUp !== null && input.stepUpCheck ? await input.stepUpCheck() : false);
    const stepUp = steppedUp ? { scope: steppedUp, browser: caller.keyKind === 'publishable', turnstilePassed } : undefined;
    return await admitAndRecord(env, config, caller, { ...input, requestId, now, testCode, scopes, stepUp }, waitUntil);
  } catch (error) {
    // Nothing was recorded under the key: give it up before answering, so a retry is not told to
    // wait. Should that fail too, the claim lapses after CLAIM_TTL_MS.
    if (key) {
      await releaseIdempotencyKey(env.DB, { appId, key, requestId }).catch((releaseError) =>
        logWarn('idempotency.release_failed', { requestId, error: errorName(releaseError) }),
      );
    }
    throw error;
  }
}

async function admitAndRecord(
  env: Env,
  config: Config,
  caller: AppCaller,
  input: {
    phoneNumber: string;
    channel?: 'sms' | 'whatsapp' | 'auto';
    idempotencyKey?: string;
    clientIp?: string;
    requestId: string;
    now: number;
    testCode: string | undefined;
    scopes: string[];
    stepUp: SendToAdmit['stepUp'];
  },
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<CreatedRequest> {
  const { requestId, now } = input;
  const testNumber = input.testCode !== undefined;
  let admission: Awaited<ReturnType<typeof admitSend>>;
  try {
    admission = await admitSend(
      env,
      config,
      {
        requestId,
        phoneNumber: input.phoneNumber,
        clientIp: input.clientIp,
        app: { appId: caller.appId, dailySmsBudget: caller.settings.dailySmsBudget },
        testNumber,
        stepUp: input.stepUp,
      },
      waitUntil,
    );
  } catch (error) {
    if (!(error instanceof AdmissionUnavailableError)) throw error;
    logError('limiter.unavailable', { failed: 'limiter', error: error.message });
    throw new ApiError('limiter_unavailable', 'Rate limiting is unavailable, so no code can be sent; try again shortly', {
      headers: { 'Retry-After': FAULT_RETRY_SECONDS },
    });
  }
  if (!admission.allowed) refuse(env, config, caller.appId, input, admission, waitUntil);

  const expiresAt = now + caller.settings.otpTtlSeconds * 1000;
  const recorded = await recordAdmittedRequest(env, caller, { ...input, createdAt: now, expiresAt }, admission.release, waitUntil);
  if ('refused' in recorded) refuse(env, config, caller.appId, input, recorded.refused, waitUntil);

  metricsFor(env).record({ metric: 'send', appId: caller.appId, testNumber });
  scopeWatch().note('sends', input.scopes, now, config.stepUp.windowSeconds);
  // A browser that solved the challenge the step-up asked for: its earlier refusal was a real user's.
  if (input.stepUp?.browser && input.stepUp.turnstilePassed) scopeWatch().note('solved', input.scopes, now, config.stepUp.windowSeconds);
  if (testNumber) {
    // Its `otp.sent`, for an app with a webhook, in the background.
    waitUntil(enqueueWrittenEvents(env, recorded.written));
    return { requestId, expiresAt, replayed: false };
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

/**
 * Answers a refused send, by a limiter or by D1's record of blocks and locks alike: its denial
 * metric, the alert signal of a spent global budget, the step-up's note, and the error.
 */
function refuse(
  env: Env,
  config: Config,
  appId: string,
  input: { now: number; scopes: string[]; stepUp: SendToAdmit['stepUp'] },
  refusal: { reason: RefusalReason; retryAfterSeconds: number },
  waitUntil: (promise: Promise<unknown>) => void,
): never {
  metricsFor(env).record({ metric: 'denial', reason: refusal.reason, appId });
  if (refusal.reason === 'global_budget_exhausted') {
    logWarn('limiter.global_budget_spent', { retryAfterSeconds: refusal.retryAfterSeconds });
    // The alert rule's signal (docs/operators.md#alerts): one write per isolate per few seconds, in the background.
    const marked = markSignalThrottled(env.DB, 'global_budget_exhausted', input.now);
    if (marked) waitUntil(marked.catch((error) => logWarn('alerts.signal_not_marked', { error: errorName(error) })));
  }
  const byStepUp = refusal.reason === 'turnstile_required' || refusal.reason === 'conversion_step_up';
  // What the step-up turned away tells the ledger the attack is still knocking (see judgeScope).
  if (byStepUp) scopeWatch().note('refused', input.scopes, input.now, config.stepUp.windowSeconds);
  const rules = refusal.reason === 'conversion_step_up' ? config.stepUp.trickle : config.limits.phone;
  throw refusedSendError(refusal.reason, refusal.retryAfterSeconds, rules, byStepUp ? input.stepUp?.scope : undefined);
}

/** The first of the send's scopes that is stepped up, from this isolate's view (see scope-watch.ts). */
function steppedUpScope(env: Env, config: Config, scopes: string[], waitUntil: (promise: Promise<unknown>) => void): Promise<string | null> {
  return scopeWatch().steppedUpScope(scopes, reportTo(env), stepUpPolicyOf(config), config.stepUp.refreshSeconds * 1000, waitUntil);
}

/** Claims the key for `requestId`; answers the original request when the key already made one. */
async function claimOrReplay(
  env: Env,
  claim: { appId: string; key: string; phoneNumber: string; requestId: string; now: number },
): Promise<CreatedRequest | null> {
  const fingerprint = await sendFingerprint(claim.phoneNumber);
  let found: Awaited<ReturnType<typeof claimIdempotencyKey>>;
  try {
    found = await claimIdempotencyKey(env.DB, { appId: claim.appId, key: claim.key, fingerprint, requestId: claim.requestId, now: claim.now });
  } catch (error) {
    logError('idempotency.claim_failed', { error: errorName(error) });
    throw new ApiError('service_unavailable', 'The Idempotency-Key could not be checked in storage; try again shortly', {
      headers: { 'Retry-After': FAULT_RETRY_SECONDS },
    });
  }
  if (found.kind === 'claimed') return null;
  if (found.fingerprint !== fingerprint) {
    throw new ApiError('idempotency_key_conflict', 'This Idempotency-Key was already used with a different request body');
  }
  if (found.kind === 'pending') {
    throw new ApiError('request_in_progress', 'A request with this Idempotency-Key is still being created; retry shortly for its answer', {
      headers: { 'Retry-After': '1' },
    });
  }
  const request = await getRequest(env.DB, found.requestId).catch((error: unknown) => {
    logError('idempotency.replay_failed', { error: errorName(error) });
    throw new ApiError('service_unavailable', 'The request this Idempotency-Key made could not be read from storage; try again shortly', {
      headers: { 'Retry-After': FAULT_RETRY_SECONDS },
    });
  });
  // The claim found the request, so only a deletion in between (retention) could hide it now.
  if (!request) throw new ApiError('request_in_progress', 'This Idempotency-Key is being reused; retry shortly', { headers: { 'Retry-After': '1' } });
  return { requestId: request.id, expiresAt: request.expires_at, replayed: true };
}
