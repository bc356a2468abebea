import { deriveCode } from '../codes';
import { mapWithConcurrency } from '../concurrency';
import type { Config } from '../config';
import type { ProviderName } from '../config-providers';
import {
  type AttemptRecord,
  type ClaimedRequest,
  claimRequests,
  finishWithoutSendingStatements,
  recordAttemptStatements,
  releaseClaimStatement,
  sendLeaseMs,
} from '../db/delivery-attempts';
import { scheduleStatusChecks } from '../delivery-reports/schedule-checks';
import { errorName, logError, logInfo, logWarn } from '../log';
import { type MetricPoint, metricsFor, providerCall } from '../metrics/metrics';
import { delayUntilFree, pacingHorizonMs, providerSlots, type ReserveSlots, slowestRate } from '../pacing/provider-slots';
import { type Clock, StartGate, systemClock } from '../pacing/start-gate';
import { deploymentProviders, longestTimeoutMs } from '../providers/select-provider';
import type { SendJob } from '../queue/messages';
import { attemptSend } from './attempt-send';
import { BatchHealth } from './batch-health';
import { bookSendTimes } from './book-send-times';
import { loadRouting, noteCall, routeRequest } from './route-jobs';
import { backoffFor, commit, failMisconfigured, type Job, settleSkipped, unique } from './settle-send-jobs';
import { type Started, startCall } from './start-call';

/** A call starts only if its lease outlasts it by this much (its timeout counted in full). */
const LEASE_END_MARGIN_MS = 5000;
/** A request whose every provider is drained looks again this much later. */
const DRAINED_RETRY_SECONDS = 30;

/** What became of one claimed request: a provider call, none (its claim given back), or its end without a call. */
type Outcome = { called: AttemptRecord } | { released: { reason: string; retryAfterSeconds: number } } | { ended: { errorCode: string; message: string } };

/**
 * Sends the `send` jobs of one queue batch. Each message is acked or retried on its own; D1 is
 * touched in a fixed number of round trips per batch (claim, explain skips, record results). Each
 * request goes to the provider the routing policy chooses (src/routing/routing-policy.ts), at a
 * send time from that provider's own pacer.
 */
export async function handleSendJobs(
  messages: ReadonlyArray<{ message: Message<unknown>; body: SendJob }>,
  env: Env,
  config: Config,
  clock: Clock = systemClock,
): Promise<void> {
  const all: Job[] = messages.map(({ message, body }) => ({ message, requestId: body.requestId }));
  if (all.length === 0) return;

  const { providers, misconfigured } = deploymentProviders(config, env.DB);
  const secret = config.secrets.OTP_SECRET;
  if (providers.size === 0 || !secret) {
    await failMisconfigured(env, all, [...misconfigured, ...(secret ? [] : ['OTP_SECRET is not set'])].join('; '), config);
    return;
  }
  if (misconfigured.length > 0) logError('send.provider_misconfigured', { reason: misconfigured.join('; '), requests: all.length });

  const routing = await loadRouting(env, config, providers);
  const now = clock.now();
  const timeoutMs = longestTimeoutMs(config);
  const callsInTurn = Math.ceil(all.length / config.provider.concurrency);
  const leaseMs = sendLeaseMs(timeoutMs, pacingHorizonMs(slowestRate(config)), callsInTurn);
  // Claimed before send times are booked: where a request goes (and so whose pacer it needs)
  // depends on its past attempts, which the claim reads.
  let claimed: Map<string, ClaimedRequest>;
  try {
    claimed = await claimRequests(env.DB, unique(all.map((job) => job.requestId)), now, leaseMs);
  } catch (error) {
    logError('send.claim_failed', { error: errorName(error), messages: all.length });
    for (const job of all) job.message.retry({ delaySeconds: backoffFor(job.message, config) });
    return;
  }

  // A request id may appear twice in one batch (duplicate delivery): only its first copy sends.
  const toSend: Array<Job & { request: ClaimedRequest }> = [];
  const skipped: Job[] = [];
  for (const job of all) {
    const request = claimed.get(job.requestId);
    if (request && !toSend.some((other) => other.requestId === job.requestId)) toSend.push({ ...job, request });
    else skipped.push(job);
  }

  const finishing: D1PreparedStatement[] = [];
  await settleSkipped(env, skipped, now, finishing, leaseMs);

  const routed = toSend.map((job) => routeRequest(routing, job.request));
  const pacers = new Map<ProviderName, ReserveSlots>();
  const reserveAt = (name: ProviderName) => pacers.get(name) ?? pacers.set(name, providerSlots(env, config, name)).get(name)!;
  const askedAt = clock.now();
  const booked = await bookSendTimes(
    routed.map(({ route }, index) => ({ requestId: toSend[index]!.requestId, provider: 'provider' in route ? (route.provider as ProviderName) : null })),
    reserveAt,
  );
  const roundTripMs = clock.now() - askedAt;

  // Each call starts on its send time or takes a new one; none starts so late that its lease
  // could lapse before it ends (another copy of the job may claim the request then).
  const gates = new Map<string, StartGate>();
  const gateOf = (name: ProviderName) =>
    gates.get(name) ?? gates.set(name, new StartGate((leadMs) => reserveAt(name)(1, leadMs), clock, roundTripMs)).get(name)!;
  const lastStart = now + leaseMs - timeoutMs - LEASE_END_MARGIN_MS;
  const health = new BatchHealth(env, config);
  const work = toSend.map((job, index) => ({ job, ...routed[index]! }));
  const outcomes = await mapWithConcurrency(work, config.provider.concurrency, async ({ job, route, channel }): Promise<Outcome> => {
    if ('none' in route) {
      if (route.none === 'all_drained') return { released: { reason: 'all_providers_drained', retryAfterSeconds: DRAINED_RETRY_SECONDS } };
      const message =
        route.none === 'outcome_unknown' ? 'an earlier call may have sent it; no provider is left to send it safely' : `no provider has the ${channel} channel`;
      return { ended: { errorCode: route.none === 'outcome_unknown' ? 'provider_outcome_unknown' : 'channel_unavailable', message } };
    }
    const name = route.provider as ProviderName;
    const slot = booked.slotOf.get(job.requestId);
    if (slot === undefined) {
      const answer = booked.answers.get(name);
      const retryAfterSeconds = answer ? delayUntilFree(answer, clock.now()) : backoffFor(job.message, config);
      return { released: { reason: answer ? 'pacer_busy' : 'pacer_unavailable', retryAfterSeconds } };
    }
    const code = await deriveCode(secret, job.request.id, job.request.code_length ?? config.otp.length);
    const deadline = Math.min(job.request.expires_at, lastStart);
    let started: Started;
    try {
      started = await startCall({ routing, request: job.request, provider: name, slot, deadline, clock, gateOf, reserveAt });
    } catch (error) {
      logError('send.pacer_unavailable', { error: errorName(error), messages: 1 });
      return { released: { reason: 'pacer_unavailable', retryAfterSeconds: backoffFor(job.message, config) } };
    }
    if ('released' in started) return started;
    const provider = providers.get(started.provider)!;
    const called = await attemptSend({ provider, channel, code, request: job.request, startedAt: started.startedAt, config, routing, clock });
    if (countsForHealth(called)) {
      health.note(started.provider, { at: called.finishedAt, ok: isHealthy(called), latencyMs: called.finishedAt - called.startedAt });
      if (noteCall(routing, started.provider, isHealthy(called)) === 'went_down') await health.reportNow(started.provider);
    }
    return { called };
  });
  const attempts: AttemptRecord[] = [];
  const metrics = metricsFor(env);
  outcomes.forEach((outcome, index) => {
    const { request } = toSend[index]!;
    if ('called' in outcome) {
      const attempt = outcome.called;
      attempts.push(attempt);
      metrics.record(providerCallPoint(attempt));
      finishing.push(...recordAttemptStatements(env.DB, attempt));
    } else if ('ended' in outcome) {
      logWarn('send.not_routable', { requestId: request.id, errorCode: outcome.ended.errorCode });
      finishing.push(...finishWithoutSendingStatements(env.DB, { requestId: request.id, status: 'failed', ...outcome.ended, now: clock.now() }));
    } else {
      logWarn('send.not_started', { requestId: request.id, reason: outcome.released.reason });
      finishing.push(releaseClaimStatement(env.DB, { requestId: request.id, attemptNumber: request.attempts, now: clock.now() }));
    }
  });
  const [recorded] = await Promise.all([commit(env, finishing, toSend, config, leaseMs, attempts), health.reportRest()]);
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
    if (recorded === 'deferred' || 'ended' in outcome) {
      job.message.ack();
      return;
    }
    const attempt = outcome.called;
    logInfo('send.attempt', {
      requestId: job.requestId,
      attempt: attempt.attemptNumber,
      provider: attempt.provider,
      channel: attempt.channel,
      outcome: attempt.decision.action,
      httpStatus: attempt.httpStatus,
      errorCode: attempt.decision.action === 'sent' ? undefined : attempt.decision.errorCode,
      durationMs: attempt.finishedAt - attempt.startedAt,
    });
    if (attempt.decision.action === 'retry') job.message.retry({ delaySeconds: attempt.decision.delaySeconds });
    else job.message.ack();
  });
}

function providerCallPoint(attempt: AttemptRecord): MetricPoint {
  const { decision } = attempt;
  return providerCall({
    provider: attempt.provider ?? 'unknown',
    outcome: decision.action,
    errorCode: decision.action === 'sent' ? null : decision.errorCode,
    durationMs: attempt.finishedAt - attempt.startedAt,
  });
}

/** Ends of a request that come from a transient failure of the provider. */
const TRANSIENT_ENDS = new Set(['retries_exhausted', 'provider_outcome_unknown', 'expired_before_delivery']);

/** A permanent refusal is an answer: the provider is up, whatever it thinks of the number. */
function isHealthy(attempt: AttemptRecord): boolean {
  const { decision } = attempt;
  return decision.action === 'sent' || (decision.action === 'fail' && !TRANSIENT_ENDS.has(decision.errorCode));
}

/** Every call says how its provider is doing, except a fallback of the auto channel (WhatsApp refusing a number). */
function countsForHealth(attempt: AttemptRecord): boolean {
  return !attempt.fallbackToSms;
}
