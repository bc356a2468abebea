import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env';
import { ErasureSchema, eraseOrRefuse, erasureView } from '../erasure-view';
import { validationHook } from '../error-handler';
import { appAuth } from '../middleware/app-auth';
import { SECRET_KEY_ONLY, tag } from '../openapi-document';
import { ANY_ROUTE, errorResponses, JSON_BODY, responseHeaders, SECRET_KEY } from '../openapi-responses';
import { PhoneNumberSchema } from '../schemas';

const erase = createRoute({
  method: 'post',
  path: '/v1/erasures',
  operationId: 'eraseMyPhoneData',
  tags: tag('Privacy'),
  security: SECRET_KEY_ONLY,
  summary: "Erase this app's requests for one phone number (a user's erasure request)",
  description:
    "The app's secret key only. Deletes the app's requests for the number and every row about them, here and in the limiter's logs; other apps' requests, and what the service keeps for the number across apps (a phone lock, session revocations), stay: an operator erases those (docs/operators.md#erasing-one-persons-data). " +
    'Leaves a record without the number. Repeating it is harmless: 200 with zero counts. Queued sends of erased requests are dropped unsent.',
  request: {
    body: { required: true, content: { 'application/json': { schema: z.object({ phoneNumber: PhoneNumberSchema }).strict().openapi('EraseMyDataRequest') } } },
  },
  responses: {
    200: { description: 'Erased; the record of it', headers: responseHeaders('Cache-Control'), content: { 'application/json': { schema: ErasureSchema } } },
    ...errorResponses(ANY_ROUTE, SECRET_KEY, JSON_BODY, ['invalid_phone_number']),
  },
});

export const erasureRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
// The key is checked before the body is looked at: an unknown caller learns nothing.
erasureRoutes.on('POST', '/v1/erasures', appAuth(['secret']));
erasureRoutes.openapi(erase, async (c) => {
  const caller = c.get('caller');
  const record = await eraseOrRefuse(c.env, { phoneNumber: c.req.valid('json').phoneNumber, appId: caller.appId, actor: caller.keyId });
  c.header('Cache-Control', 'no-store');
  return c.json(erasureView(record), 200);
});
