import { writtenEventIds } from '../db/webhook-events';
import { errorName, logWarn } from '../log';
import { webhookDelivery } from '../queue/webhook-messages';

/** Messages per `sendBatch` (the Queues limit). */
const QUEUE_SEND_BATCH_LIMIT = 100;

/**
 * Hands events just written to the `otp-webhooks` queue. It never throws and never retries: the
 * event rows are already committed with the change they report, so a failed enqueue costs only
 * time (the sweeper enqueues every pending event left without a job, within a minute or two), and
 * the OTP work that wrote them goes on as if webhooks did not exist.
 */
export async function enqueueWebhookEvents(env: Env, eventIds: readonly string[]): Promise<void> {
  for (let start = 0; start < eventIds.length; start += QUEUE_SEND_BATCH_LIMIT) {
    const slice = eventIds.slice(start, start + QUEUE_SEND_BATCH_LIMIT);
    try {
      await env.WEBHOOK_QUEUE.sendBatch(slice.map((id) => ({ body: webhookDelivery(id) })));
    } catch (error) {
      logWarn('webhook.enqueue_failed', { events: slice.length, error: errorName(error) });
      return;
    }
  }
}

/** Enqueues the events a D1 batch wrote (its statements answered them as `webhook_event_id`). */
export function enqueueWrittenEvents(env: Env, results: ReadonlyArray<D1Result<unknown>>): Promise<void> {
  const ids = writtenEventIds(results);
  return ids.length === 0 ? Promise.resolve() : enqueueWebhookEvents(env, ids);
}
