import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { createApp, updateApp } from '../../apps/manage-apps';
import { type ApiKeyRow, listAllKeys, listKeys } from '../../db/api-keys';
import { listAppChanges } from '../../db/app-changes';
import { getApp, listApps } from '../../db/apps';
import { ApiError } from '../../errors';
import { AppChangeSchema, AppIdParam, AppNameSchema, AppSchema, AppSettingsSchema, DEFAULT_ACTOR, OperatorHeaders } from '../admin-app-schemas';
import { appChangeView, appView } from '../admin-app-views';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { ADMIN_BEARER, tag } from '../openapi-document';
import { ADMIN_ROUTE, errorResponses, JSON_BODY, responseHeaders, withHeaders } from '../openapi-responses';

/** How many of an app's changes its detail shows, newest first. */
export const APP_CHANGES_SHOWN = 50;

const security = ADMIN_BEARER;
const tags = tag('Admin: apps');
/** Every answer about apps, errors after the token check included, is `Cache-Control: no-store` (routes/admin.ts). */
const appErrors: typeof errorResponses = (...codes) => withHeaders(errorResponses(...codes), 'Cache-Control');

const create = createRoute({
  method: 'post',
  path: '/v1/admin/apps',
  operationId: 'createApp',
  tags,
  summary: 'Create an app with a secret key and a publishable key (operators)',
  description:
    'The answer holds both keys in full. **They are shown this once**: only their hashes are stored, so copy them now; a lost key is replaced by rotating it. ' +
    "The change is recorded in the app's change log with the `X-Operator` header as its actor (`admin` without it).",
  security,
  request: {
    headers: OperatorHeaders,
    body: {
      required: true,
      content: { 'application/json': { schema: z.object({ name: AppNameSchema, settings: AppSettingsSchema.optional() }).strict().openapi('CreateApp') } },
    },
  },
  responses: {
    201: {
      description: 'Created; `Location` is the app. The keys are in this answer only.',
      headers: responseHeaders('Location', 'Cache-Control'),
      content: {
        'application/json': {
          schema: z.object({
            app: AppSchema,
            secretKey: z.string().openapi({ description: 'sk_…, for the app’s backend; shown once', example: 'sk_…' }),
            publishableKey: z.string().openapi({ description: 'pk_…, for browsers on the allowed origins; shown once', example: 'pk_…' }),
          }),
        },
      },
    },
    ...appErrors(ADMIN_ROUTE, JSON_BODY),
  },
});

const list = createRoute({
  method: 'get',
  path: '/v1/admin/apps',
  operationId: 'listApps',
  tags,
  summary: 'Every app with its settings and keys (operators)',
  description: 'Keys are listed by id, kind, visible prefix and state; never in full, never their hashes.',
  security,
  responses: {
    200: {
      description: 'Oldest first',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ apps: z.array(AppSchema) }) } },
    },
    ...appErrors(ADMIN_ROUTE),
  },
});

const get = createRoute({
  method: 'get',
  path: '/v1/admin/apps/{appId}',
  operationId: 'getApp',
  tags,
  summary: 'One app, its keys and its last 50 changes (operators)',
  security,
  request: { params: z.object({ appId: AppIdParam }) },
  responses: {
    200: {
      description: 'The app; `changes` newest first',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ app: AppSchema, changes: z.array(AppChangeSchema) }) } },
    },
    ...appErrors(ADMIN_ROUTE, ['not_found']),
  },
});

const PatchApp = z
  .object({
    name: AppNameSchema.optional(),
    settings: AppSettingsSchema.optional().openapi({ description: 'The whole settings: they replace the stored ones (`{}` clears them all)' }),
    disabled: z.boolean().optional().openapi({ description: 'true: none of its keys works; false: they work again' }),
  })
  .strict()
  .refine((patch) => Object.values(patch).some((value) => value !== undefined), 'give at least one of name, settings, disabled')
  .openapi('UpdateApp');

const update = createRoute({
  method: 'patch',
  path: '/v1/admin/apps/{appId}',
  operationId: 'updateApp',
  tags,
  summary: 'Rename, replace the settings of, disable or enable an app (operators)',
  description:
    'Settings are checked as a whole (400 `invalid_request` naming the setting). Each actual change is recorded (`app.updated` naming the changed fields and settings, `app.disabled`, `app.enabled`); a patch that changes nothing records nothing. ' +
    'This Worker instance applies the change at once; others within 30 seconds (how long an instance trusts what it read of a key).',
  security,
  request: {
    headers: OperatorHeaders,
    params: z.object({ appId: AppIdParam }),
    body: { required: true, content: { 'application/json': { schema: PatchApp } } },
  },
  responses: {
    200: {
      description: 'The app as it is now',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ app: AppSchema }) } },
    },
    ...appErrors(ADMIN_ROUTE, JSON_BODY, ['not_found']),
  },
});

async function appWithKeys(db: D1Database, appId: string, now: number) {
  const [app, keys] = await Promise.all([getApp(db, appId), listKeys(db, appId)]);
  if (!app) throw new ApiError('not_found', 'No such app');
  return appView(app, keys, now);
}

export const adminAppRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
adminAppRoutes
  .openapi(create, async (c) => {
    const { name, settings } = c.req.valid('json');
    const now = Date.now();
    const actor = c.req.valid('header')['x-operator'] ?? DEFAULT_ACTOR;
    const created = await createApp(c.env.DB, { name, settings: settings ?? {}, actor, now });
    c.header('Location', new URL(`/v1/admin/apps/${created.appId}`, c.req.url).toString());
    const app = await appWithKeys(c.env.DB, created.appId, now);
    return c.json({ app, secretKey: created.secretKey, publishableKey: created.publishableKey }, 201);
  })
  .openapi(list, async (c) => {
    const [apps, keys] = await Promise.all([listApps(c.env.DB), listAllKeys(c.env.DB)]);
    const keysOf = Map.groupBy(keys, (key: ApiKeyRow) => key.app_id);
    const now = Date.now();
    return c.json({ apps: apps.map((app) => appView(app, keysOf.get(app.id) ?? [], now)) }, 200);
  })
  .openapi(get, async (c) => {
    const { appId } = c.req.valid('param');
    const [app, changes] = await Promise.all([appWithKeys(c.env.DB, appId, Date.now()), listAppChanges(c.env.DB, appId, APP_CHANGES_SHOWN)]);
    return c.json({ app, changes: changes.map(appChangeView) }, 200);
  })
  .openapi(update, async (c) => {
    const { appId } = c.req.valid('param');
    const now = Date.now();
    const actor = c.req.valid('header')['x-operator'] ?? DEFAULT_ACTOR;
    await updateApp(c.env.DB, appId, c.req.valid('json'), { actor, now });
    return c.json({ app: await appWithKeys(c.env.DB, appId, now) }, 200);
  });
