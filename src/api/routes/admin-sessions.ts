import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { SESSION_TTL_MAX_SECONDS } from '../../config';
import { revokePhoneSessions } from '../../db/session-revocations';
import { logInfo } from '../../log';
import { phonePrefix } from '../../phone';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { ADMIN_BEARER, tag } from '../openapi-document';
import { ADMIN_ROUTE, errorResponses, JSON_BODY, responseHeaders } from '../openapi-responses';
import { PhoneNumberSchema } from '../schemas';

const revoke = createRoute({
  method: 'post',
  path: '/v1/admin/sessions/revoke',
  operationId: 'revokePhoneSessions',
  tags: tag('Admin: abuse'),
  summary: 'Revoke every session of a phone number (operators)',
  description:
    'Every session cookie issued to the number until now answers 401 from the next request on; a later verification starts a new session as usual. Sessions are not stored, so this cannot count them: it answers `revoked: true`.',
  security: ADMIN_BEARER,
  request: {
    body: {
      required: true,
      content: { 'application/json': { schema: z.object({ phoneNumber: PhoneNumberSchema }).strict().openapi('RevokeSessionsRequest') } },
    },
  },
  responses: {
    200: {
      description: 'Revoked',
      headers: responseHeaders('Cache-Control'),
      content: {
        'application/json': {
          schema: z.object({
            revoked: z.literal(true),
            revokedBefore: z.string().openapi({ format: 'date-time', description: 'Sessions issued at or before this instant are refused' }),
          }),
        },
      },
    },
    ...errorResponses(ADMIN_ROUTE, JSON_BODY, ['invalid_phone_number']),
  },
});

export const adminSessionRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(revoke, async (c) => {
  const { phoneNumber } = c.req.valid('json');
  const now = Date.now();
  await revokePhoneSessions(c.env.DB, phoneNumber, now, SESSION_TTL_MAX_SECONDS * 1000);
  logInfo('sessions.revoked_for_phone', { phonePrefix: phonePrefix(phoneNumber), traceId: c.get('traceId') });
  c.header('Cache-Control', 'no-store');
  return c.json({ revoked: true as const, revokedBefore: new Date(now).toISOString() }, 200);
});
