import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { deriveCode } from '../../codes';
import { recentSandboxMessages } from '../../db/sandbox-messages';
import { ApiError } from '../../errors';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { PUBLIC, tag } from '../openapi-document';
import { ANY_ROUTE, errorResponses, responseHeaders, STORAGE } from '../openapi-responses';
import { requireSecret } from '../required-secret';

/** The newest messages are what a developer looks for; older ones are not paged. */
const SANDBOX_LISTING_MAX = 100;

const SandboxMessage = z
  .object({
    messageId: z.string(),
    requestId: z.string(),
    appId: z.string().nullable(),
    phoneNumber: z.string(),
    code: z.string(),
    sentAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('SandboxMessage');

const listMessages = createRoute({
  method: 'get',
  path: '/v1/sandbox/messages',
  operationId: 'listSandboxMessages',
  tags: tag('Sandbox'),
  security: PUBLIC,
  summary: 'SMS the sandbox provider would have sent (sandbox mode only)',
  description: `Exists only while PROVIDER_MODE=sandbox; answers 404 \`not_found\` in every other mode. Lists at most ${SANDBOX_LISTING_MAX} messages per call (\`limit\`, 20 by default).`,
  request: {
    query: z.object({
      phoneNumber: z.string().optional().openapi({ description: 'Only messages to this number (E.164; encode the + as %2B)' }),
      requestId: z.string().optional().openapi({ description: 'Only the message of this request' }),
      limit: z.coerce
        .number()
        .int()
        .min(1)
        .max(SANDBOX_LISTING_MAX)
        .default(20)
        .openapi({ description: `Messages to list, newest first: 20 by default, at most ${SANDBOX_LISTING_MAX} (a larger value is a 400)` }),
    }),
  },
  responses: {
    200: {
      description: 'Newest first',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ messages: z.array(SandboxMessage) }) } },
    },
    ...errorResponses(ANY_ROUTE, STORAGE, ['not_found']),
  },
});

/**
 * What the sandbox "sent", with each code derived on the spot: the listing is how a developer
 * completes the flow locally, and the code still is not stored anywhere.
 */
export const sandboxRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(listMessages, async (c) => {
  const config = c.get('config');
  if (config.provider.mode !== 'sandbox') throw new ApiError('not_found', `No route for GET ${c.req.path}`);
  const secret = requireSecret(config, 'OTP_SECRET', c.req.path);
  const { phoneNumber, requestId, limit } = c.req.valid('query');
  const results = await recentSandboxMessages(c.env.DB, limit, { phoneNumber, requestId });
  const messages = await Promise.all(
    results.map(async (row) => ({
      messageId: row.message_id,
      requestId: row.request_id,
      appId: row.app_id,
      phoneNumber: row.phone_number,
      code: await deriveCode(secret, row.request_id, row.code_length ?? config.otp.length),
      sentAt: new Date(row.created_at).toISOString(),
    })),
  );
  c.header('Cache-Control', 'no-store');
  return c.json({ messages }, 200);
});
