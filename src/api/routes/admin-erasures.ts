import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { listErasures } from '../../db/erasures';
import { APP_ID_PATTERN } from '../../ids';
import { DEFAULT_ACTOR, OperatorHeaders } from '../admin-app-schemas';
import type { AppEnv } from '../app-env';
import { ErasureSchema, eraseOrRefuse, erasureView } from '../erasure-view';
import { validationHook } from '../error-handler';
import { ADMIN_BEARER, tag } from '../openapi-document';
import { ADMIN_ROUTE, errorResponses, JSON_BODY, responseHeaders } from '../openapi-responses';
import { PhoneNumberSchema } from '../schemas';

const AppScope = z.string().regex(APP_ID_PATTERN, 'is not a valid app id');
const LIST_LIMIT = 100;
const security = ADMIN_BEARER;
const tags = tag('Admin: privacy');

const erase = createRoute({
  method: 'post',
  path: '/v1/admin/erasures',
  operationId: 'erasePhoneData',
  tags,
  summary: "Erase everything held for one phone number (a person's request under GDPR or India's DPDP Act)",
  description:
    'Deletes the requests for the number and every row about them (delivery attempts, status checks, verification events, sandbox messages, webhook events and their attempts, dead letters, Idempotency-Keys), ' +
    "its phone lock, its session revocations and its rows in the limiter objects, and masks it in bulk resends' filters. " +
    'With `appId`, only that app’s requests and their rows. Leaves a record without the number: who (`X-Operator`), when, the app, rows per table. ' +
    'Repeating it is harmless: it erases nothing more, answers 200 with zero counts and is recorded again. Queued sends of erased requests are dropped unsent.',
  security,
  request: {
    headers: OperatorHeaders,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z
            .object({ phoneNumber: PhoneNumberSchema, appId: AppScope.optional().openapi({ description: "Only this app's requests" }) })
            .strict()
            .openapi('EraseRequest'),
        },
      },
    },
  },
  responses: {
    200: { description: 'Erased; the record of it', headers: responseHeaders('Cache-Control'), content: { 'application/json': { schema: ErasureSchema } } },
    ...errorResponses(ADMIN_ROUTE, JSON_BODY, ['invalid_phone_number']),
  },
});

const list = createRoute({
  method: 'get',
  path: '/v1/admin/erasures',
  operationId: 'listErasures',
  tags,
  summary: `The latest erasures (at most ${LIST_LIMIT}), newest first: who, when, which app, rows per table; never the number`,
  security,
  request: { query: z.object({ appId: AppScope.optional().openapi({ description: "Only erasures of this app's requests" }) }) },
  responses: {
    200: {
      description: 'Erasures',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ erasures: z.array(ErasureSchema) }) } },
    },
    ...errorResponses(ADMIN_ROUTE),
  },
});

/** Operators erase one person's data and read the record of erasures (erasure/erase-phone.ts). */
export const adminErasureRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(erase, async (c) => {
    const { phoneNumber, appId } = c.req.valid('json');
    const actor = c.req.valid('header')['x-operator'] ?? DEFAULT_ACTOR;
    const record = await eraseOrRefuse(c.env, { phoneNumber, appId: appId ?? null, actor });
    c.header('Cache-Control', 'no-store');
    return c.json(erasureView(record), 200);
  })
  .openapi(list, async (c) => {
    const erasures = await listErasures(c.env.DB, { limit: LIST_LIMIT, appId: c.req.valid('query').appId });
    c.header('Cache-Control', 'no-store');
    return c.json({ erasures: erasures.map(erasureView) }, 200);
  });
