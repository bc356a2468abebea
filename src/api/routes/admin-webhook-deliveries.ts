import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { getWebhookEvent, listWebhookAttempts, listWebhookEvents, REDELIVER_MAX_EVENTS } from '../../db/webhook-listing';
import { ApiError } from '../../errors';
import { redeliverEvents } from '../../webhooks/redeliver';
import { AppIdParam, DEFAULT_ACTOR, OperatorHeaders } from '../admin-app-schemas';
import { PageSchema } from '../admin-schemas';
import { EventIdParam, EventIdSchema, WebhookAttemptSchema, WebhookDeliverySchema } from '../admin-webhook-schemas';
import { webhookAttemptView, webhookDeliveryView } from '../admin-webhook-views';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { ADMIN_BEARER, tag } from '../openapi-document';
import { ADMIN_ROUTE, errorResponses, JSON_BODY, responseHeaders, withHeaders } from '../openapi-responses';
import { readPaged } from '../paged-listing';

const security = ADMIN_BEARER;
const tags = tag('Admin: webhooks');
/** Every answer about apps, errors after the token check included, is `Cache-Control: no-store` (routes/admin.ts). */
const appErrors: typeof errorResponses = (...codes) => withHeaders(errorResponses(...codes), 'Cache-Control');
const base = '/v1/admin/apps/{appId}/webhook';

const list = createRoute({
  method: 'get',
  path: `${base}/deliveries`,
  operationId: 'listWebhookDeliveries',
  tags,
  summary: "An app's webhook events and how their delivery went, newest first (operators)",
  description: 'One row per event: its state, attempts and last error. Keyset pagination: pass `nextCursor` as `cursor`.',
  security,
  request: {
    params: z.object({ appId: AppIdParam }),
    query: z.object({
      status: z.enum(['pending', 'delivered', 'failed']).optional().openapi({ description: 'Only events in this state' }),
      cursor: z.string().max(200).optional().openapi({ description: 'The `nextCursor` of the previous page' }),
      limit: z.coerce.number().int().min(1).max(500).optional().openapi({ description: 'Rows per page: 50 by default, at most 500' }),
    }),
  },
  responses: {
    200: {
      description: 'One page',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ deliveries: z.array(WebhookDeliverySchema), ...PageSchema }) } },
    },
    ...appErrors(ADMIN_ROUTE),
  },
});

const detail = createRoute({
  method: 'get',
  path: `${base}/deliveries/{eventId}`,
  operationId: 'getWebhookDelivery',
  tags,
  summary: 'One webhook event and every attempt to post it (operators)',
  security,
  request: { params: z.object({ appId: AppIdParam, eventId: EventIdParam }) },
  responses: {
    200: {
      description: 'The event; attempts oldest first',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ delivery: WebhookDeliverySchema, attempts: z.array(WebhookAttemptSchema) }) } },
    },
    ...appErrors(ADMIN_ROUTE, ['not_found']),
  },
});

const RedeliverBody = z
  .union([z.object({ eventId: EventIdSchema }).strict(), z.object({ allFailed: z.literal(true) }).strict()])
  .openapi('RedeliverWebhookEvents', { description: '`{ "eventId": "evt_…" }` for one event, `{ "allFailed": true }` for every failed one' });

const redeliver = createRoute({
  method: 'post',
  path: `${base}/redeliver`,
  operationId: 'redeliverWebhookEvents',
  tags,
  summary: 'Post events again, through the same queue (operators)',
  description:
    `One event, whatever it came to (a receiver that lost a delivered event may ask for it again), or every failed event of the app, oldest first, up to ${REDELIVER_MAX_EVENTS} a call (\`more: true\`: call again). ` +
    'Each is retried as a new event is: for a day, its backoff starting over; it keeps its id, so the receiver deduplicates it by `webhook-id`. ' +
    'An event being posted right now answers 409 `delivery_in_progress`. Recorded as `webhook.redelivered`.',
  security,
  request: {
    headers: OperatorHeaders,
    params: z.object({ appId: AppIdParam }),
    body: { required: true, content: { 'application/json': { schema: RedeliverBody } } },
  },
  responses: {
    202: {
      description: 'Queued',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ redelivered: z.number().int(), more: z.boolean() }) } },
    },
    ...appErrors(ADMIN_ROUTE, JSON_BODY, ['not_found', 'delivery_in_progress']),
  },
});

export const adminWebhookDeliveryRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
adminWebhookDeliveryRoutes
  .openapi(list, async (c) => {
    const { appId } = c.req.valid('param');
    const { status, cursor, limit } = c.req.valid('query');
    const { rows, nextCursor } = await readPaged(
      'webhook_events',
      { cursor, limit, format: 'json' },
      (after, count) => listWebhookEvents(c.env.DB, appId, { state: status }, { after: after && { at: after.at, id: String(after.id) }, limit: count }),
      (row) => ({ at: row.occurred_at, id: row.id }),
    );
    return c.json({ deliveries: rows.map(webhookDeliveryView), nextCursor }, 200);
  })
  .openapi(detail, async (c) => {
    const { appId, eventId } = c.req.valid('param');
    const event = await getWebhookEvent(c.env.DB, appId, eventId);
    if (!event) throw new ApiError('not_found', 'No such event for this app');
    const attempts = await listWebhookAttempts(c.env.DB, eventId);
    return c.json({ delivery: webhookDeliveryView(event), attempts: attempts.map(webhookAttemptView) }, 200);
  })
  .openapi(redeliver, async (c) => {
    const { appId } = c.req.valid('param');
    const body = c.req.valid('json');
    const target = 'eventId' in body ? { eventId: body.eventId } : { allFailed: true as const };
    const actor = c.req.valid('header')['x-operator'] ?? DEFAULT_ACTOR;
    return c.json(await redeliverEvents(c.env, appId, target, { actor, now: Date.now() }), 202);
  });
