import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { KEY_KINDS } from '../../apps/key-material';
import { addKey, DEFAULT_OVERLAP_SECONDS, MAX_OVERLAP_SECONDS, revokeKey, rotateKey } from '../../apps/manage-keys';
import { getKey } from '../../db/api-keys';
import { AppIdParam, AppKeySchema, DEFAULT_ACTOR, KeyIdParam, OperatorHeaders } from '../admin-app-schemas';
import { appKeyView } from '../admin-app-views';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { ADMIN_BEARER, tag } from '../openapi-document';
import { ADMIN_ROUTE, errorResponses, JSON_BODY, responseHeaders, withHeaders } from '../openapi-responses';

const security = ADMIN_BEARER;
const tags = tag('Admin: apps');
/** Every answer about apps, errors after the token check included, is `Cache-Control: no-store` (routes/admin.ts). */
const appErrors: typeof errorResponses = (...codes) => withHeaders(errorResponses(...codes), 'Cache-Control');
const ApiKeyText = z.string().openapi({ description: 'The key in full (sk_… or pk_…). **Shown this once**: only its hash is stored.', example: 'sk_…' });
const keyParams = z.object({ appId: AppIdParam, keyId: KeyIdParam });

const create = createRoute({
  method: 'post',
  path: '/v1/admin/apps/{appId}/keys',
  operationId: 'createAppKey',
  tags,
  summary: 'Add a secret or publishable key to an app (operators)',
  description: 'The answer holds the key in full, **this once**. Recorded as `key.created` with the key id and prefix.',
  security,
  request: {
    headers: OperatorHeaders,
    params: z.object({ appId: AppIdParam }),
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z
            .object({ kind: z.enum(KEY_KINDS) })
            .strict()
            .openapi('CreateAppKey'),
        },
      },
    },
  },
  responses: {
    201: {
      description: 'Created',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ key: AppKeySchema, apiKey: ApiKeyText }) } },
    },
    ...appErrors(ADMIN_ROUTE, JSON_BODY, ['not_found']),
  },
});

const rotate = createRoute({
  method: 'post',
  path: '/v1/admin/apps/{appId}/keys/{keyId}/rotate',
  operationId: 'rotateAppKey',
  tags,
  summary: 'Replace a key with a new one; the old one works until the overlap ends (operators)',
  description:
    `The new key (same kind) is in the answer in full, **this once**. The old key keeps working for \`overlapSeconds\` (0 to ${MAX_OVERLAP_SECONDS}, default ${DEFAULT_OVERLAP_SECONDS}: a day), ` +
    'then every call with it is refused as an invalid API key; its `expiresAt` is checked against the clock on every call, everywhere. ' +
    'A revoked key answers 409 `key_revoked`, a key rotated before 409 `key_already_rotated` (rotate its successor, named in `replacedBy`). ' +
    'A key of another app answers 404.',
  security,
  request: {
    headers: OperatorHeaders,
    params: keyParams,
    body: {
      required: false,
      content: {
        'application/json': {
          schema: z
            .object({ overlapSeconds: z.number().int().min(0).max(MAX_OVERLAP_SECONDS).optional().openapi({ example: DEFAULT_OVERLAP_SECONDS }) })
            .strict()
            .openapi('RotateAppKey'),
        },
      },
    },
  },
  responses: {
    201: {
      description: 'Rotated: the new key, and the old one as it is now (`state: expiring` until `expiresAt`)',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ key: AppKeySchema, apiKey: ApiKeyText, replaced: AppKeySchema }) } },
    },
    ...appErrors(ADMIN_ROUTE, JSON_BODY, ['not_found', 'key_revoked', 'key_already_rotated']),
  },
});

const revoke = createRoute({
  method: 'delete',
  path: '/v1/admin/apps/{appId}/keys/{keyId}',
  operationId: 'revokeAppKey',
  tags,
  summary: 'Revoke a key now (operators)',
  description:
    'The key stops working at once on this Worker instance and within 30 seconds on every other (how long an instance trusts what it read of a key). ' +
    'Revoking a revoked key changes nothing and answers the same. A key of another app answers 404.',
  security,
  request: { headers: OperatorHeaders, params: keyParams },
  responses: {
    200: { description: 'Revoked', headers: responseHeaders('Cache-Control'), content: { 'application/json': { schema: z.object({ key: AppKeySchema }) } } },
    ...appErrors(ADMIN_ROUTE, ['not_found']),
  },
});

/** Operators add, rotate and revoke an app's keys (apps/manage-keys.ts). */
export const adminAppKeyRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(create, async (c) => {
    const { appId } = c.req.valid('param');
    const now = Date.now();
    const actor = c.req.valid('header')['x-operator'] ?? DEFAULT_ACTOR;
    const { keyId, apiKey } = await addKey(c.env.DB, { appId, kind: c.req.valid('json').kind, actor, now });
    const key = await getKey(c.env.DB, appId, keyId);
    return c.json({ key: appKeyView(key!, now), apiKey }, 201);
  })
  .openapi(rotate, async (c) => {
    const { appId, keyId } = c.req.valid('param');
    const now = Date.now();
    const actor = c.req.valid('header')['x-operator'] ?? DEFAULT_ACTOR;
    const overlapSeconds = c.req.valid('json').overlapSeconds ?? DEFAULT_OVERLAP_SECONDS;
    const rotated = await rotateKey(c.env.DB, { appId, keyId, overlapSeconds, actor, now });
    const [key, replaced] = await Promise.all([getKey(c.env.DB, appId, rotated.keyId), getKey(c.env.DB, appId, keyId)]);
    return c.json({ key: appKeyView(key!, now), apiKey: rotated.apiKey, replaced: appKeyView(replaced!, now) }, 201);
  })
  .openapi(revoke, async (c) => {
    const { appId, keyId } = c.req.valid('param');
    const now = Date.now();
    const actor = c.req.valid('header')['x-operator'] ?? DEFAULT_ACTOR;
    const key = await revokeKey(c.env.DB, { appId, keyId, actor, now });
    return c.json({ key: appKeyView(key, now) }, 200);
  });
