import type { Config } from '../config';
import { type AttemptRecord, finishWithoutSendingStatements, isFinal, readStates } from '../db/delivery-attempts';
import { errorName, logError, logInfo, logWarn } from '../log';
import type { RecordAttempts } from '../queue/messages';
import { enqueueWrittenEvents } from '../webhooks/enqueue-events';
import { deadLetterUnreadable } from './reject-to-dead-letters';
import { retryDelaySeconds } from './retry-policy';

/**
 * How a send batch settles its jobs besides calling the provider (see `send-batch.ts`): jobs it
 * could not claim, a missing provider configuration, and writing the outcomes.
 */

export type Job = { message: Message<unknown>; requestId: string };

/**
 * Without its credentials the provider cannot be called: say so loudly and end the requests as
 * `failed` (the update applies only to requests still waiting), instead of retrying for nothing.
 */
export async function failMisconfigured(env: Env, jobs: Job[], reason: string, config: Config): Promise<void> {
  logError('send.provider_misconfigured', { reason, requests: jobs.length });
  const now = Date.now();
  const statements = unique(jobs.map((job) => job.requestId)).flatMap((requestId) =>
    finishWithoutSendingStatements(env.DB, { requestId, status: 'failed', errorCode: 'provider_misconfigured', message: reason, now }),
  );
  try {
    await enqueueWrittenEvents(env, await env.DB.batch(statements));
    for (const job of jobs) job.message.ack();
  } catch (error) {
    logError('send.record_failed', { error: errorName(error), messages: jobs.length });
    for (const job of jobs) job.message.retry({ delaySeconds: backoffFor(job.message, config) });
  }
}

/** Acks duplicates and finished requests, retries leased ones later, ends expired ones. */
export async function settleSkipped(env: Env, skipped: Job[], now: number, finishing: D1PreparedStatement[], leaseMs: number): Promise<void> {
  if (skipped.length === 0) return;
  let states: Awaited<ReturnType<typeof readStates>>;
  try {
    states = await readStates(env.DB, unique(skipped.map((job) => job.requestId)));
  } catch (error) {
    logError('send.read_state_failed', { error: errorName(error) });
    for (const job of skipped) job.message.retry({ delaySeconds: Math.ceil(leaseMs / 1000) });
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
        ...finishWithoutSendingStatements(env.DB, {
          requestId: job.requestId,
          status: 'expired',
          errorCode: 'expired_before_delivery',
          message: 'the code expired while waiting in the queue',
          now,
        }),
      );
      job.message.ack();
    } else {
      // Another consumer holds the lease (a concurrent copy of this job, or one in this batch),
      // or the code expires before this job's send time: it comes back and is ended above.
      const waitMs = Math.max(1000, (state.lease_until ?? now) - now);
      job.message.retry({ delaySeconds: Math.ceil(waitMs / 1000) });
    }
  }
}

/**
 * Writes the batch's outcomes in one D1 transaction. When D1 fails after provider calls were
 * made, the outcomes travel on through the queue (`record_attempts`) and are written from there,
 * so no call is made twice. Only if that enqueue fails too are the jobs retried once their lease
 * lapses; the repeated call reuses the idempotency key, so the provider answers with the
 * original result and sends no second SMS.
 */
export async function commit(
  env: Env,
  statements: D1PreparedStatement[],
  sent: Job[],
  config: Config,
  leaseMs: number,
  attempts: AttemptRecord[] = [],
): Promise<'written' | 'deferred' | 'retried'> {
  if (statements.length === 0) return 'written';
  try {
    await enqueueWrittenEvents(env, await env.DB.batch(statements));
    return 'written';
  } catch (error) {
    logError('send.record_failed', { error: errorName(error), messages: sent.length });
  }
  if (attempts.length > 0) {
    try {
      const body: RecordAttempts = { type: 'record_attempts', v: 1, attempts };
      await env.SEND_QUEUE.send(body);
      logWarn('send.record_deferred', { attempts: attempts.length });
      return 'deferred';
    } catch (error) {
      logError('send.record_defer_failed', { error: errorName(error) });
    }
  }
  const delaySeconds = Math.ceil(leaseMs / 1000) + 1;
  for (const job of sent) job.message.retry({ delaySeconds: Math.max(delaySeconds, backoffFor(job.message, config)) });
  return 'retried';
}

export function backoffFor(message: Message<unknown>, config: Config): number {
  return retryDelaySeconds(message.attempts, config.provider.retry, undefined);
}

export function unique(values: string[]): string[] {
  return [...new Set(values)];
}
