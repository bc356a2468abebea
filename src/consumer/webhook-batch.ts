import { mapWithConcurrency } from '../concurrency';
import type { Config } from '../config';
import { deadLetterStatement } from '../db/dead-letters';
import { type ClaimedEvent, claimEvents, readEventStates } from '../db/webhook-delivery';
import type { WebhookRow } from '../db/webhooks';
import { errorName, logError, logInfo, logWarn } from '../log';
import { WebhookDelivery } from '../queue/webhook-messages';
import { type AttemptResult, attemptDelivery, type DeliveryClock, recordAttempt, systemDeliveryClock } from '../webhooks/attempt-delivery';
import { configOrRetryBatch } from './batch-config';

/** Added to the posts' time in a batch for the lease: it outlasts the batch's posts and their records. */
const LEASE_MARGIN_MS = 15_000;
/** How long a job waits when D1 failed under it. */
const FAULT_RETRY_SECONDS = 30;

type Job = { message: Message<unknown>; eventId: string };

/**
 * Consumes `otp-webhooks`: posts each event to its app's receiver and records the attempt. A
 * separate queue and consumer from the SMS work, with at most WEBHOOK_CONCURRENCY posts in flight
 * per batch (and `max_concurrency` batches, wrangler.toml): a slow or dead receiver holds up other
 * webhooks at most, never a code.
 */
export async function handleWebhookBatch(batch: MessageBatch<unknown>, env: Env, clock: DeliveryClock = systemDeliveryClock): Promise<void> {
  const config = configOrRetryBatch(batch, env);
  if (!config) return;
  const jobs: Job[] = [];
  for (const message of batch.messages) {
    const parsed = WebhookDelivery.safeParse(message.body);
    if (parsed.success) jobs.push({ message, eventId: parsed.data.eventId });
    else await dropUnreadable(env, message);
  }
  await handleWebhookJobs(jobs, env, config, clock);
}

export async function handleWebhookJobs(jobs: readonly Job[], env: Env, config: Config, clock: DeliveryClock = systemDeliveryClock): Promise<void> {
  if (jobs.length === 0) return;
  const ids = [...new Set(jobs.map((job) => job.eventId))];
  const { concurrency, timeoutMs } = config.webhooks;
  const leaseMs = Math.ceil(ids.length / concurrency) * timeoutMs + LEASE_MARGIN_MS;
  const now = clock.now();
  let claimed: Map<string, ClaimedEvent>;
  let webhooks: Map<string, WebhookRow>;
  try {
    ({ claimed, webhooks } = await claimEvents(env.DB, ids, now, leaseMs));
  } catch (error) {
    logError('webhook.claim_failed', { error: errorName(error), messages: jobs.length });
    for (const job of jobs) job.message.retry({ delaySeconds: FAULT_RETRY_SECONDS });
    return;
  }
  // An event id twice in one batch (a duplicate job): only its first copy posts.
  const toPost: Array<Job & { event: ClaimedEvent }> = [];
  const skipped: Job[] = [];
  for (const job of jobs) {
    const event = claimed.get(job.eventId);
    if (event && !toPost.some((other) => other.eventId === job.eventId)) toPost.push({ ...job, event });
    else skipped.push(job);
  }
  await settleSkipped(env, skipped, now);
  await mapWithConcurrency(toPost, concurrency, async (job) => {
    const result = await attemptDelivery(job.event, webhooks.get(job.event.app_id) ?? null, config, clock);
    await settle(env, job, result, leaseMs);
  });
}

async function settle(env: Env, job: Job & { event: ClaimedEvent }, result: AttemptResult, leaseMs: number): Promise<void> {
  const { record } = result;
  try {
    await recordAttempt(env.DB, job.event, result);
  } catch (error) {
    // The post happened but is not recorded: the event is tried again once its lease lapses (the
    // receiver may see it twice, and deduplicates by webhook-id).
    logError('webhook.record_failed', { eventId: job.eventId, error: errorName(error) });
    job.message.retry({ delaySeconds: Math.ceil(leaseMs / 1000) + 1 });
    return;
  }
  logInfo('webhook.attempt', {
    eventId: job.eventId,
    appId: job.event.app_id,
    attempt: record.attemptNumber,
    outcome: record.outcome,
    httpStatus: record.httpStatus,
    errorCode: record.errorCode ?? undefined,
    durationMs: record.finishedAt - record.startedAt,
    retryInSeconds: record.retryDelaySeconds ?? undefined,
  });
  if (record.outcome === 'retry') job.message.retry({ delaySeconds: record.retryDelaySeconds ?? FAULT_RETRY_SECONDS });
  else job.message.ack();
}

/**
 * Jobs whose event could not be claimed: gone (retention) or finished are acked, one another
 * consumer is posting waits for its lease, and a copy that came before its event's attempt was due
 * (a stale duplicate: the event's own job carries its schedule) is dropped.
 */
async function settleSkipped(env: Env, skipped: Job[], now: number): Promise<void> {
  if (skipped.length === 0) return;
  let states: Awaited<ReturnType<typeof readEventStates>>;
  try {
    states = await readEventStates(env.DB, [...new Set(skipped.map((job) => job.eventId))]);
  } catch (error) {
    logError('webhook.read_state_failed', { error: errorName(error) });
    for (const job of skipped) job.message.retry({ delaySeconds: FAULT_RETRY_SECONDS });
    return;
  }
  for (const job of skipped) {
    const state = states.get(job.eventId);
    if (state?.state === 'pending' && state.lease_until !== null && state.lease_until > now) {
      job.message.retry({ delaySeconds: Math.max(1, Math.ceil((state.lease_until - now) / 1000)) });
    } else {
      logInfo('webhook.job_dropped', { eventId: job.eventId, state: state?.state ?? 'gone' });
      job.message.ack();
    }
  }
}

async function dropUnreadable(env: Env, message: Message<unknown>): Promise<void> {
  try {
    await deadLetterStatement(env.DB, message.id, null, 'unreadable_webhook_message', Date.now()).run();
    logWarn('dead_letter.recorded', { messageId: message.id, reason: 'unreadable_webhook_message' });
    message.ack();
  } catch (error) {
    logError('dead_letter.record_failed', { messageId: message.id, error: errorName(error) });
    message.retry({ delaySeconds: FAULT_RETRY_SECONDS });
  }
}
