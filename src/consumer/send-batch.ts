import { type AppSettings, parseStoredSettings } from '../apps/app-settings';
import { deriveCode } from '../codes';
import { mapWithConcurrency } from '../concurrency';
import type { Config } from '../config';
import { type AttemptRecord, type ClaimedRequest, claimRequests, recordAttemptStatements, releaseClaimStatement, sendLeaseMs } from '../db/delivery-attempts';
import { scheduleStatusChecks } from '../delivery-reports/schedule-checks';
import { providerIdempotencyKey } from '../ids';
import { errorName, logError, logInfo, logWarn } from '../log';
import type { Reservation } from '../pacing/pacing-schedule';
import { claimLeadMs, delayUntilFree, noteClaimDuration, pacingHorizonMs, providerSlots } from '../pacing/provider-slots';
import { type Clock, StartGate, systemClock } from '../pacing/start-gate';
import { selectProvider } from '../providers/select-provider';
import type { MessageText, SendOutcome, SmsProvider } from '../providers/sms-provider';
import type { SendJob } from '../queue/messages';
import { decide } from './retry-policy';
import { backoffFor, commit, failMisconfigured, type Job, settleSkipped, unique } from './settle-send-jobs';

/** A call starts only if its lease outlasts it by this much (its timeout counted in full). */
const LEASE_END_MARGIN_MS = 5000;

/** What became of one claimed request: a provider call, or none (its claim given back). */
type Outcome = { called: AttemptRecord } | { released: { reason: string; retryAfterSeconds: number } };

/**
 * Sends the `send` jobs of one queue batch. Each message is acked or retried on its own; D1 is
 * touched in a fixed number of round trips per batch (claim, explain skips, record results).
 */
export async function handleSendJobs(
  messages: ReadonlyArray<{ message: Message<unknown>; body: SendJob }>,
  env: Env,
  config: Config,
  clock: Clock = systemClock,
): Promise<void> {
  const all: Job[] = messages.map(({ message, body }) => ({ message, requestId: body.requestId }));
  if (all.length === 0) return;

  const choice = selectProvider(config, env.DB, { OTP_SECRET: config.secrets.OTP_SECRET });
  const secret = config.secrets.OTP_SECRET;
  if ('misconfigured' in choice || !secret) {
    await failMisconfigured(env, all, 'misconfigured' in choice ? choice.misconfigured : 'OTP_SECRET is not set', config);
    return;
  }

  // Send times from the account-wide pacer; jobs that got none wait in the queue until it frees up.
  const reserve = providerSlots(env, config);
  const ids = unique(all.map((job) => job.requestId));
  let reservation: Reservation;
  let roundTripMs: number;
  try {
    const askedAt = clock.now();
    reservation = await reserve(ids.length, claimLeadMs());
    roundTripMs = clock.now() - askedAt;
  } catch (error) {
    logError('send.pacer_unavailable', { error: errorName(error), messages: all.length });
    for (const job of all) job.message.retry({ delaySeconds: backoffFor(job.message, config) });
    return;
  }
  const slotOf = new Map(ids.slice(0, reservation.slots.length).map((id, index) => [id, reservation.slots[index]!]));
  const jobs = all.filter((job) => slotOf.has(job.requestId));
  for (const job of all) if (!slotOf.has(job.requestId)) job.message.retry({ delaySeconds: delayUntilFree(reservation, clock.now()) });
  if (jobs.length === 0) return;

  const now = clock.now();
  const callsInTurn = Math.ceil(jobs.length / config.provider.concurrency);
  const leaseMs = sendLeaseMs(config.provider.timeoutMs, pacingHorizonMs(config.provider.ratePerSecond), callsInTurn);
  let claimed: Map<string, ClaimedRequest>;
  try {
    claimed = await claimRequests(env.DB, unique(jobs.map((job) => job.requestId)), now, leaseMs, slotOf);
    noteClaimDuration(clock.now() - now);
  } catch (error) {
    logError('send.claim_failed', { error: errorName(error), messages: jobs.length });
    for (const job of jobs) job.message.retry({ delaySeconds: backoffFor(job.message, config) });
    return;
  }

  // A request id may appear twice in one batch (duplicate delivery): only its first copy sends.
  const toSend: Array<Job & { request: ClaimedRequest }> = [];
  const skipped: Job[] = [];
  for (const job of jobs) {
    const request = claimed.get(job.requestId);
    if (request && !toSend.some((other) => other.requestId === job.requestId)) toSend.push({ ...job, request });
    else skipped.push(job);
  }

  const finishing: D1PreparedStatement[] = [];
  await settleSkipped(env, skipped, now, finishing, leaseMs);

  // Each call starts on its send time or takes a new one; none starts so late that its lease
  // could lapse before it ends (another copy of the job may claim the request then).
  const gate = new StartGate((leadMs) => reserve(1, leadMs), clock, roundTripMs);
  const lastStart = now + leaseMs - config.provider.timeoutMs - LEASE_END_MARGIN_MS;
  const outcomes = await mapWithConcurrency(toSend, config.provider.concurrency, async (job): Promise<Outcome> => {
    const code = await deriveCode(secret, job.request.id, job.request.code_length ?? config.otp.length);
    const deadline = Math.min(job.request.expires_at, lastStart);
    let start: Awaited<ReturnType<StartGate['waitForStart']>>;
    try {
      start = await gate.waitForStart(slotOf.get(job.requestId)!, deadline);
    } catch (error) {
      logError('send.pacer_unavailable', { error: errorName(error), messages: 1 });
      return { released: { reason: 'pacer_unavailable', retryAfterSeconds: backoffFor(job.message, config) } };
    }
    if (!start.start) return { released: { reason: start.reason, retryAfterSeconds: start.retryAfterSeconds } };
    return { called: await attemptSend(choice.provider, code, config, job.request, start.startedAt, clock) };
  });
  const attempts: AttemptRecord[] = [];
  outcomes.forEach((outcome, index) => {
    const { request } = toSend[index]!;
    if ('called' in outcome) {
      attempts.push(outcome.called);
      finishing.push(...recordAttemptStatements(env.DB, outcome.called));
    } else {
      logWarn('send.not_started', { requestId: request.id, reason: outcome.released.reason });
      finishing.push(releaseClaimStatement(env.DB, { requestId: request.id, attemptNumber: request.attempts, now: clock.now() }));
    }
  });
  const recorded = await commit(env, finishing, toSend, config, leaseMs, attempts);
  if (recorded === 'retried') return;
  if (recorded === 'written') {
    // Delivery reports: one delayed status check per message the provider accepted.
    await scheduleStatusChecks(env, config, attempts);
  }

  toSend.forEach((job, index) => {
    const outcome = outcomes[index]!;
    if ('released' in outcome) {
      // Back in line: its claim was given back (or, if that write failed, lapses with its lease).
      job.message.retry({ delaySeconds: outcome.released.retryAfterSeconds });
      return;
    }
    if (recorded === 'deferred') {
      job.message.ack();
      return;
    }
    const attempt = outcome.called;
    logInfo('send.attempt', {
      requestId: job.requestId,
      attempt: attempt.attemptNumber,
      outcome: attempt.decision.action,
      httpStatus: attempt.httpStatus,
      errorCode: attempt.decision.action === 'sent' ? undefined : attempt.decision.errorCode,
      durationMs: attempt.finishedAt - attempt.startedAt,
    });
    if (attempt.decision.action === 'retry') job.message.retry({ delaySeconds: attempt.decision.delaySeconds });
    else job.message.ack();
  });
}

async function attemptSend(
  provider: SmsProvider,
  code: string,
  config: Config,
  request: ClaimedRequest,
  startedAt: number,
  clock: Clock,
): Promise<AttemptRecord> {
  let outcome: SendOutcome;
  try {
    const settings = request.app_settings_json ? parseStoredSettings(request.app_settings_json) : null;
    outcome = await provider.send({
      requestId: request.id,
      phoneNumber: request.phone_number,
      code,
      idempotencyKey: providerIdempotencyKey(request.id),
      attemptNumber: request.attempts,
      ...(settings?.templateId ? { templateId: settings.templateId } : {}),
      text: messageText(request.app_name, settings),
    });
  } catch (error) {
    outcome = { kind: 'transient', httpStatus: null, errorCode: 'provider_error', message: errorName(error) };
  }
  const finishedAt = clock.now();
  return {
    requestId: request.id,
    attemptNumber: request.attempts,
    provider: provider.name,
    startedAt,
    finishedAt,
    httpStatus: outcome.httpStatus,
    decision: decide(outcome, {
      attemptNumber: request.attempts,
      now: finishedAt,
      expiresAt: request.expires_at,
      retry: config.provider.retry,
      maxAttempts: config.provider.maxAttempts,
    }),
  };
}

/** The app's wording, read with the claim. Unreadable settings send without (and are reported when the app's key is used). */
function messageText(appName: string | null, settings: AppSettings | null): MessageText {
  return {
    appName,
    ...(settings?.smsDomain ? { smsDomain: settings.smsDomain } : {}),
    ...(settings?.smsTemplate ? { smsTemplate: settings.smsTemplate } : {}),
    ...(settings?.smsLocale ? { smsLocale: settings.smsLocale } : {}),
  };
}
