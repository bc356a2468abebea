import { deriveCode } from '../codes';
import { mapWithConcurrency } from '../concurrency';
import { type Config, otpSecretFor } from '../config';
import { providerIdempotencyKey } from '../ids';
import { errorName, logError, logInfo, logWarn } from '../log';
import { selectProvider } from '../provider/select-provider';
import type { SendOutcome, SmsProvider } from '../provider/types';
import type { SendJob } from '../queue/messages';
import { deadLetterUnreadable } from './dead-letter';
import {
  type AttemptRecord,
  type ClaimedRequest,
  SEND_LEASE_MS,
  claimRequests,
  finishWithoutSendingStatement,
  isFinal,
  readStates,
  recordAttemptStatements,
} from './delivery-store';
import { decide, retryDelaySeconds } from './retry-policy';
import { scheduleStatusChecks } from './schedule-status-checks';

type Job = { message: Message<unknown>; requestId: string };

/**
 * Sends the `send` jobs of one queue batch. Each message is acked or retried on its own; D1 is
 * touched in a fixed number of round trips per batch (claim, explain skips, record results).
 */
export async function handleSendJobs(
  messages: ReadonlyArray<{ message: Message<unknown>; body: SendJob }>,
  env: Env,
  config: Config,
): Promise<void> {
  const jobs: Job[] = messages.map(({ message, body }) => ({ message, requestId: body.requestId }));
  if (jobs.length === 0) return;

  const now = Date.now();
  let claimed: Map<string, ClaimedRequest>;
  try {
    claimed = await claimRequests(env.DB, unique(jobs.map((job) => job.requestId)), now);
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
  await settleSkipped(env, skipped, now, finishing);

  const choice = selectProvider(config, env.DB);
  const secret = otpSecretFor(config);
  if ('misconfigured' in choice || !secret) {
    const reason = 'misconfigured' in choice ? choice.misconfigured : 'OTP_SECRET is not set';
    logError('send.provider_misconfigured', { reason, requests: toSend.length });
    for (const job of toSend) {
      finishing.push(
        finishWithoutSendingStatement(env.DB, {
          requestId: job.requestId,
          status: 'failed',
          errorCode: 'provider_misconfigured',
          message: reason,
          now,
        }),
      );
    }
    if (await commit(env, finishing, toSend, config)) for (const job of toSend) job.message.ack();
    return;
  }

  const attempts = await mapWithConcurrency(toSend, config.sendConcurrency, (job) =>
    attemptSend(choice.provider, secret, config, job.request),
  );
  for (const attempt of attempts) finishing.push(...recordAttemptStatements(env.DB, attempt));
  if (!(await commit(env, finishing, toSend, config))) return;
  // Delivery reports: one delayed status check per message the provider accepted.
  await scheduleStatusChecks(env, config, attempts);

  toSend.forEach((job, index) => {
    const attempt = attempts[index]!;
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
  secret: string,
  config: Config,
  request: ClaimedRequest,
): Promise<AttemptRecord> {
  const startedAt = Date.now();
  const code = await deriveCode(secret, request.id, config.otp.length);
  let outcome: SendOutcome;
  try {
    outcome = await provider.send({
      requestId: request.id,
      phoneNumber: request.phone_number,
      code,
      idempotencyKey: providerIdempotencyKey(request.id),
      attemptNumber: request.attempts,
    });
  } catch (error) {
    outcome = { kind: 'transient', httpStatus: null, errorCode: 'provider_error', message: errorName(error) };
  }
  const finishedAt = Date.now();
  return {
    requestId: request.id,
    attemptNumber: request.attempts,
    startedAt,
    finishedAt,
    httpStatus: outcome.httpStatus,
    decision: decide(outcome, {
      attemptNumber: request.attempts,
      now: finishedAt,
      expiresAt: request.expires_at,
      retry: config.retry,
    }),
  };
}

/** Acks duplicates and finished requests, retries leased ones later, ends expired ones. */
async function settleSkipped(env: Env, skipped: Job[], now: number, finishing: D1PreparedStatement[]): Promise<void> {
  if (skipped.length === 0) return;
  let states;
  try {
    states = await readStates(env.DB, unique(skipped.map((job) => job.requestId)));
  } catch (error) {
    logError('send.read_state_failed', { error: errorName(error) });
    for (const job of skipped) job.message.retry({ delaySeconds: Math.ceil(SEND_LEASE_MS / 1000) });
    return;
  }
  for (const job of skipped) {
    const state = states.get(job.requestId);
    if (!state) {
      // Requests are written before their job is enqueued, so this id never existed here.
      await deadLetterUnreadable(env, job.message, 'request_not_found');
    } else if (isFinal(state.status)) {
      logInfo('send.duplicate_acked', { requestId: job.requestId, status: state.status });
      job.message.ack();
    } else if (state.expires_at <= now) {
      finishing.push(
        finishWithoutSendingStatement(env.DB, {
          requestId: job.requestId,
          status: 'expired',
          errorCode: 'expired_before_delivery',
          message: 'the code expired while waiting in the queue',
          now,
        }),
      );
      job.message.ack();
    } else {
      // Another consumer holds the lease (a concurrent copy of this job, or one in this batch).
      const waitMs = Math.max(1000, (state.lease_until ?? now) - now);
      job.message.retry({ delaySeconds: Math.ceil(waitMs / 1000) });
    }
  }
}

/**
 * Writes the batch's outcomes in one D1 transaction. When that fails, every message that made a
 * provider call is retried once its lease has lapsed: the next call reuses the idempotency key,
 * so the provider answers with the original result instead of sending a second SMS.
 */
async function commit(env: Env, statements: D1PreparedStatement[], sent: Job[], config: Config): Promise<boolean> {
  if (statements.length === 0) return true;
  try {
    await env.DB.batch(statements);
    return true;
  } catch (error) {
    logError('send.record_failed', { error: errorName(error), messages: sent.length });
    const delaySeconds = Math.ceil(SEND_LEASE_MS / 1000) + 1;
    for (const job of sent) job.message.retry({ delaySeconds: Math.max(delaySeconds, backoffFor(job.message, config)) });
    return false;
  }
}

function backoffFor(message: Message<unknown>, config: Config): number {
  return retryDelaySeconds(message.attempts, config.retry, undefined);
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
