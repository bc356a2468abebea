import { type OpenAPIHono, z } from '@hono/zod-openapi';
import { WEBHOOK_EVENT_TYPES } from '../db/webhooks';
import type { AppEnv } from './app-env';
import { PUBLIC, tag } from './openapi-document';

/**
 * What the service posts to an app's webhook (docs/webhooks.md), as the document's `webhooks`:
 * the event body (src/webhooks/event-payload.ts writes it) and the Standard Webhooks headers, so
 * that the reference page shows it and the typed client types the events it verifies.
 */
export const WebhookEventSchema = z
  .object({
    id: z.string().openapi({
      description: 'The event id, also its `webhook-id`: the same in every post of the event; deduplicate by it',
      example: 'evt_3q2-7wEjQ1mB0Yk5c9f8Zg_delivered',
    }),
    type: z.enum(WEBHOOK_EVENT_TYPES),
    timestamp: z.string().openapi({ format: 'date-time', description: 'When it happened (not when it was posted)' }),
    data: z.object({
      requestId: z.string().openapi({ example: 'otp_3q2-7wEjQ1mB0Yk5c9f8Zg' }),
      appId: z.string(),
      status: z.enum(['sent', 'delivered', 'failed', 'expired', 'verified']).openapi({ description: '`type` without `otp.`' }),
      occurredAt: z.string().openapi({ format: 'date-time' }),
      errorCode: z.string().nullable().openapi({ description: 'For `otp.failed` and `otp.expired`: the request’s `lastError` code; otherwise null' }),
      provider: z
        .string()
        .nullable()
        .openapi({ example: 'twilio', description: 'For `otp.sent` and `otp.delivered`: the provider the code went out through; otherwise null' }),
      channel: z
        .enum(['sms', 'whatsapp'])
        .nullable()
        .openapi({ description: 'For `otp.sent` and `otp.delivered`: the channel the code went out through; otherwise null' }),
      phoneNumber: z.string().nullable().openapi({
        description: 'Masked (`+91******3210`), in full when the webhook has `includePhoneNumber`; null once retention deleted the request. Never the code',
      }),
    }),
  })
  .openapi('WebhookEvent', { description: 'Fields may be added: ignore those you do not know' });

export function registerWebhookEvents(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerWebhook({
    method: 'post',
    path: 'otpEvent',
    operationId: 'otpEvent',
    tags: tag('Webhooks'),
    // Not a call to this service: the receiver checks the signature instead.
    security: PUBLIC,
    summary: "An event of a request's life, posted to the app's webhook URL",
    description:
      'Signed in the Standard Webhooks format: verify the raw body with the `standardwebhooks` package, or the client’s `verifyWebhook`, and the secret shown when the webhook was set. ' +
      'Answer any 2xx within 5 s; anything else is retried with backoff for a day; 410 Gone disables the webhook (docs/webhooks.md).',
    request: {
      headers: z.object({
        'webhook-id': z.string().openapi({ description: 'The event id (as `id`)' }),
        'webhook-timestamp': z
          .string()
          .openapi({ description: 'When this post was made, in seconds since the epoch; refuse one more than 5 minutes off', example: '1764151231' }),
        'webhook-signature': z.string().openapi({
          description:
            '`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` with the secret; two, space-separated, during a secret rotation',
          example: 'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=',
        }),
      }),
      body: { required: true, content: { 'application/json': { schema: WebhookEventSchema } } },
    },
    responses: {
      204: { description: 'Taken (any 2xx): the event is delivered and not posted again' },
      400: { description: 'A signature that does not verify: the post is retried, as for any other answer but 2xx and 410' },
      410: { description: 'Gone: the receiver is gone for good; the webhook is disabled until an operator sets it again' },
    },
  });
}
