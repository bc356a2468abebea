import type { Config } from '../config';
import { writtenEventIds } from '../db/webhook-events';
import { dueExpiryStatements, markEventsReenqueued, stalledEventIds } from '../db/webhook-outbox';
import { errorName, logError } from '../log';
import { webhookDelivery } from '../queue/webhook-messages';
import { enqueueWebhookEvents } from '../webhooks/enqueue-events';

/** Events of each kind handled per run; what is left waits for the next minute. */
export const WEBHOOK_SWEEP_LIMIT = 1000;
/** Messages per `sendBatch`, and ids per statement (D1 allows 100 bound parameters). */
const CHUNK = 90;

/**
 * How long past its due time a pending event may show no sign of life before its job is taken for
 * lost: the queue's batch timeout, a batch's posts (each up to WEBHOOK_TIMEOUT_MS, a few in turn)
 * and a margin. One taken for lost too early costs a second job, which finds the event leased or
 * done: the lease lets one copy post at a time.
 */
export function webhookStallGraceMs(config: Config): number {
  return 60_000 + 3 * config.webhooks.timeoutMs;
}

export interface WebhookSweepSummary {
  webhooksReenqueued: number;
  expiriesDue: number;
}

/**
 * Runs with the sweeper every minute: turns the scheduled `otp.expired` events whose code has
 * now expired unverified into pending ones (and drops the others), and enqueues every pending
 * event whose job never reached the queue or was lost. This is the outbox's other half: an event
 * row is committed with the change it reports, so whatever happens to its enqueue, it is posted.
 */
export async function sweepWebhookEvents(env: Env, config: Config, now: number): Promise<WebhookSweepSummary> {
  const due = await env.DB.batch(dueExpiryStatements(env.DB, now, WEBHOOK_SWEEP_LIMIT));
  const dueIds = writtenEventIds(due);
  // Enqueued here, and by the stalled-event pass below should this enqueue fail.
  await enqueueWebhookEvents(env, dueIds);
  const stalled = await stalledEventIds(env.DB, now, webhookStallGraceMs(config), WEBHOOK_SWEEP_LIMIT);
  let reenqueued = 0;
  for (let start = 0; start < stalled.length; start += CHUNK) {
    const slice = stalled.slice(start, start + CHUNK);
    try {
      await env.WEBHOOK_QUEUE.sendBatch(slice.map((id) => ({ body: webhookDelivery(id) })));
    } catch (error) {
      logError('sweep.webhooks_reenqueue_failed', { error: errorName(error), events: slice.length });
      break;
    }
    await markEventsReenqueued(env.DB, slice, now);
    reenqueued += slice.length;
  }
  return { webhooksReenqueued: reenqueued, expiriesDue: dueIds.length };
}
