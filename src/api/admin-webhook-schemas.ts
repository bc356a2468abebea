import { z } from '@hono/zod-openapi';
import { WEBHOOK_ATTEMPT_OUTCOMES, WEBHOOK_EVENT_STATES } from '../db/webhook-delivery';
import { WEBHOOK_EVENT_TYPES } from '../db/webhooks';
import { WEBHOOK_EVENT_ID_PATTERN } from '../queue/webhook-messages';

/** Request and answer shapes of the webhook admin routes (routes/admin-webhooks.ts, routes/admin-webhook-deliveries.ts). */

const time = z.string().openapi({ format: 'date-time' });

export const EventTypesSchema = z
  .array(z.enum(WEBHOOK_EVENT_TYPES))
  .min(1)
  .refine((types) => new Set(types).size === types.length, 'each event type may appear once')
  .openapi({ description: 'The event types to send; absent: all of them', example: ['otp.delivered', 'otp.failed', 'otp.verified'] });

export const SetWebhookBody = z
  .object({
    url: z.string().openapi({
      description:
        'https; never a private, loopback, link-local or reserved address, nor credentials; in production never a local name (docs/webhooks.md#url-rules)',
      example: 'https://shop.example/webhooks/otp',
    }),
    events: EventTypesSchema.optional(),
    includePhoneNumber: z.boolean().optional().openapi({ description: 'true: events carry the number in full; otherwise masked (+91******3210)' }),
  })
  .strict()
  .openapi('SetWebhook');

export const RotateSecretBody = z
  .object({
    overlapSeconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 86400)
      .optional()
      .openapi({ description: 'How long the previous secret keeps signing beside the new one (a second signature); 0 ends it now. Default one day.' }),
  })
  .strict()
  .openapi('RotateWebhookSecret');

export const WebhookSchema = z
  .object({
    url: z.string(),
    events: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
    includePhoneNumber: z.boolean(),
    secretVersion: z.number().int().openapi({ description: 'Counts rotations; the secret itself is shown once, when set or rotated' }),
    previousSecretUntil: time.nullable().openapi({ description: 'Until then, posts carry a second signature made with the previous secret' }),
    activeSince: time.nullable().openapi({ description: 'Events that happen from then on are sent' }),
    createdAt: time,
    updatedAt: time,
    disabledAt: time.nullable().openapi({ description: 'Set when the receiver answered 410 Gone: nothing is sent until the webhook is set again (PUT)' }),
    disabledReason: z.string().nullable(),
  })
  .openapi('Webhook');

export const SecretSchema = z.string().openapi({ description: 'whsec_…, the signing secret: shown this once; never stored', example: 'whsec_…' });

export const EventIdSchema = z.string().regex(WEBHOOK_EVENT_ID_PATTERN, 'is not a valid event id').openapi({ example: 'evt_3q2-7wEjQ1mB0Yk5c9f8Zg_sent' });
export const EventIdParam = EventIdSchema.openapi({ param: { name: 'eventId', in: 'path' } });

export const WebhookDeliverySchema = z
  .object({
    eventId: z.string().openapi({ description: 'Also the webhook-id header of every post of it' }),
    type: z.enum(WEBHOOK_EVENT_TYPES),
    requestId: z.string(),
    occurredAt: time,
    errorCode: z.string().nullable(),
    state: z.enum(WEBHOOK_EVENT_STATES).exclude(['scheduled']),
    attempts: z.number().int(),
    lastAttemptAt: time.nullable(),
    lastErrorCode: z.string().nullable(),
    nextAttemptAt: time.nullable().openapi({ description: 'While pending: when it is due' }),
    retryUntil: time.nullable().openapi({ description: 'While pending: no retry is scheduled past this' }),
    deliveredAt: time.nullable(),
  })
  .openapi('WebhookDelivery');

export const WebhookAttemptSchema = z
  .object({
    attemptNumber: z.number().int(),
    startedAt: time,
    durationMs: z.number().int(),
    outcome: z.enum(WEBHOOK_ATTEMPT_OUTCOMES),
    httpStatus: z.number().int().nullable(),
    errorCode: z
      .string()
      .nullable()
      .openapi({ description: 'http_error, timeout, network_error, gone, url_refused, secret_missing, webhook_removed, webhook_disabled, …' }),
    errorMessage: z.string().nullable(),
    retryDelaySeconds: z.number().int().nullable(),
  })
  .openapi('WebhookAttempt');
