import { appChangeIfChangedStatement } from '../db/app-changes';
import { writtenEventIds } from '../db/webhook-events';
import { getWebhookEvent, REDELIVER_MAX_EVENTS, redeliverEventStatement, redeliverFailedStatement } from '../db/webhook-listing';
import { getWebhook } from '../db/webhooks';
import { ApiError } from '../errors';
import { logInfo } from '../log';
import { enqueueWebhookEvents } from './enqueue-events';

export type RedeliveryTarget = { eventId: string } | { allFailed: true };

/**
 * Puts events back in line through the same queue, retried as new ones are (for a day, the backoff
 * starting over): one event whatever it came to, or the app's failed ones, oldest first, up to
 * REDELIVER_MAX_EVENTS a call. Recorded in the change log with how many.
 */
export async function redeliverEvents(
  env: Env,
  appId: string,
  target: RedeliveryTarget,
  who: { actor: string; now: number },
): Promise<{ redelivered: number; more: boolean }> {
  const db = env.DB;
  const webhook = await getWebhook(db, appId);
  if (!webhook || webhook.url === null) throw new ApiError('not_found', 'This app has no webhook');
  if (webhook.disabled_at !== null) {
    throw new ApiError('invalid_request', 'The webhook is disabled (its receiver answered 410 Gone); set it again with PUT before redelivering');
  }
  const single = 'eventId' in target;
  if (single && !(await getWebhookEvent(db, appId, target.eventId))) throw new ApiError('not_found', 'No such event for this app');
  const [update] = await db.batch([
    single ? redeliverEventStatement(db, appId, target.eventId, who.now) : redeliverFailedStatement(db, appId, who.now),
    appChangeIfChangedStatement(
      db,
      { appId, at: who.now, actor: who.actor, action: 'webhook.redelivered', detail: single ? { eventId: target.eventId } : { which: 'failed' } },
      { countAs: 'events' },
    ),
  ]);
  const ids = writtenEventIds([update!]);
  if (single && ids.length === 0) throw new ApiError('delivery_in_progress', 'This event is being posted right now; try again in a few seconds');
  logInfo('webhook.redelivered', { appId, events: ids.length, actor: who.actor });
  await enqueueWebhookEvents(env, ids);
  return { redelivered: ids.length, more: !single && ids.length === REDELIVER_MAX_EVENTS };
}
