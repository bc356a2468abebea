import { deadLetterStatement } from '../db/dead-letters';
import { failDeadLetteredEventStatement } from '../db/webhook-delivery';
import { errorName, logError, logWarn } from '../log';
import { WebhookDelivery } from '../queue/webhook-messages';
import { deadLetterRetryDelaySeconds } from './record-dead-letters';

/**
 * Consumes `otp-webhooks-dlq`: a job the webhook queue gave up on (its consumer failed on it every
 * time, D1 down for hours, say) ends its event as `failed` (`dead_lettered`) unless it moved on
 * meanwhile, and is kept in `dead_letters` with the request it was about. An operator can
 * redeliver it. The consumer's own schedule ends events long before the queue's retries run out.
 */
export async function handleWebhookDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const now = Date.now();
  for (const message of batch.messages) {
    const parsed = WebhookDelivery.safeParse(message.body);
    const eventId = parsed.success ? parsed.data.eventId : null;
    // An event id carries its request id's random part: `evt_<22 characters>_<status>`.
    const requestId = eventId ? `otp_${eventId.slice(4, 26)}` : null;
    const reason = eventId ? 'webhook_retries_exhausted' : 'unreadable_dead_letter';
    const statements = [deadLetterStatement(env.DB, message.id, requestId, reason, now)];
    if (eventId) statements.unshift(failDeadLetteredEventStatement(env.DB, eventId));
    try {
      await env.DB.batch(statements);
      logWarn('dead_letter.recorded', { messageId: message.id, eventId, reason });
      message.ack();
    } catch (error) {
      const delaySeconds = deadLetterRetryDelaySeconds(message.attempts);
      logError('dead_letter.record_failed', { messageId: message.id, error: errorName(error), attempt: message.attempts, delaySeconds });
      message.retry({ delaySeconds });
    }
  }
}
