import { z } from 'zod';

/**
 * What the `otp-webhooks` queue (and its dead-letter queue `otp-webhooks-dlq`) carries: one event
 * to post, by id. The event's data, the receiver and its secret are read when it is posted, so a
 * message holds nothing worth stealing and always uses the webhook as it is then.
 */
export const WEBHOOK_EVENT_ID_PATTERN = /^evt_[A-Za-z0-9_-]{22}_(sent|delivered|failed|expired|verified)$/;

export const WebhookDelivery = z.object({
  type: z.literal('webhook_event'),
  v: z.literal(1),
  eventId: z.string().regex(WEBHOOK_EVENT_ID_PATTERN),
});
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

export function webhookDelivery(eventId: string): WebhookDelivery {
  return { type: 'webhook_event', v: 1, eventId };
}
