import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { listActivePhoneLocks, type PhoneLock } from '../../db/phone-locks';
import { ApiError } from '../../errors';
import { liftPhoneLock } from '../../limiter/phone-locks';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { ADMIN_BEARER, tag } from '../openapi-document';
import { ADMIN_ROUTE, errorResponses, responseHeaders } from '../openapi-responses';
import { PhoneNumberSchema } from '../schemas';

const LockedPhone = z
  .object({
    phoneNumber: z.string().openapi({ example: '+919876543210' }),
    failures: z.number().int().openapi({ description: 'Wrong codes counted in the VERIFY_FAILURE_LIMITS window' }),
    lockedUntil: z.string().openapi({ format: 'date-time', description: 'When the phone may ask for codes and guess again' }),
  })
  .openapi('LockedPhone');

const security = ADMIN_BEARER;
const tags = tag('Admin: abuse');

const list = createRoute({
  method: 'get',
  path: '/v1/admin/locked-phones',
  operationId: 'listLockedPhones',
  tags,
  summary: 'Phones locked because their wrong-code budget is spent (no codes are sent to them meanwhile)',
  security,
  responses: {
    200: {
      description: 'Locks in force, the longest-lasting first',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ lockedPhones: z.array(LockedPhone) }) } },
    },
    ...errorResponses(ADMIN_ROUTE),
  },
});

const lift = createRoute({
  method: 'delete',
  path: '/v1/admin/locked-phones/{phoneNumber}',
  operationId: 'liftPhoneLock',
  tags,
  summary: 'Lift a phone lock: its wrong-code budget starts afresh and codes can be requested again',
  security,
  request: {
    params: z.object({
      phoneNumber: PhoneNumberSchema.openapi({ param: { name: 'phoneNumber', in: 'path' }, description: 'E.164, URL-encoded (%2B for +)' }),
    }),
  },
  responses: {
    200: { description: 'Lifted', headers: responseHeaders(), content: { 'application/json': { schema: z.object({ lifted: LockedPhone }) } } },
    ...errorResponses(ADMIN_ROUTE, ['invalid_phone_number', 'not_found']),
  },
});

const view = (lock: PhoneLock) => ({ phoneNumber: lock.phoneNumber, failures: lock.failures, lockedUntil: new Date(lock.lockedUntil).toISOString() });

/** Operators list and lift phone locks (see limiter/phone-locks.ts). */
export const adminLockedPhoneRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(list, async (c) => {
    const locks = await listActivePhoneLocks(c.env.DB, Date.now());
    c.header('Cache-Control', 'no-store');
    return c.json({ lockedPhones: locks.map(view) }, 200);
  })
  .openapi(lift, async (c) => {
    const { phoneNumber } = c.req.valid('param');
    const lifted = await liftPhoneLock(c.env, phoneNumber, Date.now());
    if (!lifted) throw new ApiError('not_found', 'This phone number is not locked');
    return c.json({ lifted: view(lifted) }, 200);
  });
