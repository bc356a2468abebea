import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { getWebhook, type WebhookRow } from '../../db/webhooks';
import { ApiError } from '../../errors';
import { removeWebhook, rotateWebhookSecret, setWebhook } from '../../webhooks/manage-webhook';
import { AppIdParam, DEFAULT_ACTOR, OperatorHeaders } from '../admin-app-schemas';
import { RotateSecretBody, SecretSchema, SetWebhookBody, WebhookSchema } from '../admin-webhook-schemas';
import { webhookView } from '../admin-webhook-views';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { ADMIN_BEARER, tag } from '../openapi-document';
import { ADMIN_ROUTE, errorResponses, JSON_BODY, responseHeaders, withHeaders } from '../openapi-responses';

/** One day: how long a rotated secret keeps signing beside the new one unless the operator says otherwise. */
export const DEFAULT_SECRET_OVERLAP_SECONDS = 86_400;

const security = ADMIN_BEARER;
const tags = tag('Admin: webhooks');
/** Every answer about apps, errors after the token check included, is `Cache-Control: no-store` (routes/admin.ts). */
const appErrors: typeof errorResponses = (...codes) => withHeaders(errorResponses(...codes), 'Cache-Control');
const path = '/v1/admin/apps/{appId}/webhook';
const params = z.object({ appId: AppIdParam });

const get = createRoute({
  method: 'get',
  path,
  operationId: 'getWebhook',
  tags,
  summary: "An app's webhook (operators)",
  security,
  request: { params },
  responses: {
    200: {
      description: 'The webhook; never its secret',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ webhook: WebhookSchema }) } },
    },
    ...appErrors(ADMIN_ROUTE, ['not_found']),
  },
});

const put = createRoute({
  method: 'put',
  path,
  operationId: 'setWebhook',
  tags,
  summary: "Set an app's webhook: its URL, the events it takes, whether they carry the full number (operators)",
  description:
    'An app without a webhook gets one and its signing secret (`whsec_…`), **shown this once** in a 201: it is derived from WEBHOOK_SECRET_KEY, never stored. ' +
    'Setting it again changes the URL or settings and keeps the secret (200); a webhook disabled by a 410 Gone is enabled again. ' +
    'Events that happen from then on are sent. A URL the rules refuse answers 400 `webhook_url_refused` with the reason in `details.reason`. ' +
    "Recorded in the app's change log (`webhook.set`, `webhook.updated`) with the receiver's origin, never the URL's path or query.",
  security,
  request: { headers: OperatorHeaders, params, body: { required: true, content: { 'application/json': { schema: SetWebhookBody } } } },
  responses: {
    200: {
      description: 'Changed; the secret is unchanged',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ webhook: WebhookSchema }) } },
    },
    201: {
      description: 'Set; the secret is in this answer only',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ webhook: WebhookSchema, secret: SecretSchema }) } },
    },
    ...appErrors(ADMIN_ROUTE, JSON_BODY, ['webhook_url_refused', 'not_found']),
  },
});

const remove = createRoute({
  method: 'delete',
  path,
  operationId: 'removeWebhook',
  tags,
  summary: "Remove an app's webhook (operators)",
  description:
    'No event is written from now on; events still waiting fail without being posted (`webhook_removed`). A webhook set later gets a new secret. Recorded as `webhook.removed`.',
  security,
  request: { headers: OperatorHeaders, params },
  responses: {
    200: {
      description: 'Removed',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ removed: z.literal(true) }) } },
    },
    ...appErrors(ADMIN_ROUTE, ['not_found']),
  },
});

const rotate = createRoute({
  method: 'post',
  path: `${path}/rotate-secret`,
  operationId: 'rotateWebhookSecret',
  tags,
  summary: "Rotate an app's webhook signing secret (operators)",
  description:
    'Answers the new secret, **shown this once**. The previous one keeps signing beside it for `overlapSeconds` (one day by default): each post carries both signatures, so the receiver switches without missing one. ' +
    '`overlapSeconds: 0` ends the previous secret now (one that leaked). A rotation that crossed another answers 409 `key_already_rotated`. Recorded as `webhook.secret_rotated`.',
  security,
  request: { headers: OperatorHeaders, params, body: { required: false, content: { 'application/json': { schema: RotateSecretBody } } } },
  responses: {
    200: {
      description: 'Rotated',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ webhook: WebhookSchema, secret: SecretSchema }) } },
    },
    ...appErrors(ADMIN_ROUTE, JSON_BODY, ['not_found', 'key_already_rotated']),
  },
});

/** The webhook of an app as operators see it; no webhook (never set, or removed) is 404. */
function shown(row: WebhookRow | null) {
  if (!row || row.url === null) throw new ApiError('not_found', 'This app has no webhook');
  return webhookView({ ...row, url: row.url });
}

const who = (actor: string | undefined) => ({ actor: actor ?? DEFAULT_ACTOR, now: Date.now() });

export const adminWebhookRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
adminWebhookRoutes
  .openapi(get, async (c) => {
    return c.json({ webhook: shown(await getWebhook(c.env.DB, c.req.valid('param').appId)) }, 200);
  })
  .openapi(put, async (c) => {
    const { appId } = c.req.valid('param');
    const result = await setWebhook(c.env.DB, c.get('config'), appId, c.req.valid('json'), who(c.req.valid('header')['x-operator']));
    const webhook = shown(result.webhook);
    return result.secret === null ? c.json({ webhook }, 200) : c.json({ webhook, secret: result.secret }, 201);
  })
  .openapi(remove, async (c) => {
    await removeWebhook(c.env.DB, c.req.valid('param').appId, who(c.req.valid('header')['x-operator']));
    return c.json({ removed: true as const }, 200);
  })
  .openapi(rotate, async (c) => {
    const { appId } = c.req.valid('param');
    const overlapSeconds = c.req.valid('json').overlapSeconds ?? DEFAULT_SECRET_OVERLAP_SECONDS;
    const rotated = await rotateWebhookSecret(c.env.DB, c.get('config'), appId, overlapSeconds, who(c.req.valid('header')['x-operator']));
    return c.json({ webhook: shown(rotated.webhook), secret: rotated.secret }, 200);
  });
