import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Context } from 'hono';
import { ApiError } from '../../errors';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { originGuard } from '../middleware/origin-guard';
import { requireSecret } from '../required-secret';
import { RequestIdSchema, errorResponses } from '../schemas';
import { SESSION_COOKIE, type SessionPayload, readSession, signSession } from '../session-cookie';
import { verifyOtp } from '../verify-otp';

const VerifyBody = z
  .object({
    code: z
      .string({ error: 'is required and must be a string of digits' })
      .regex(/^\d{4,8}$/, { error: 'must be 4 to 8 digits' })
      .openapi({ example: '123456' }),
  })
  .strict()
  .openapi('VerifyOtpRequest');

const SessionBody = z
  .object({
    phoneNumber: z.string().openapi({ example: '+919876543210' }),
    requestId: z.string(),
    expiresAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('Session');

const verify = createRoute({
  method: 'post',
  path: '/v1/otp/{requestId}/verify',
  summary: 'Check a code; on success, start a session',
  description:
    'Wrong code: 400 invalid_code with attemptsRemaining. After too many wrong codes (per request, and per phone across requests): 429 too_many_attempts, even for the right code. 410 expired, 410 superseded (a newer code exists), 409 already_verified (a code works once). On success a signed, HttpOnly session cookie is set.',
  request: {
    params: z.object({ requestId: RequestIdSchema }),
    body: { required: true, content: { 'application/json': { schema: VerifyBody } } },
  },
  responses: {
    200: { description: 'Verified; the session cookie is set', content: { 'application/json': { schema: z.object({ verified: z.literal(true) }) } } },
    ...errorResponses(400, 403, 404, 409, 410, 413, 415, 429),
  },
});

const getSession = createRoute({
  method: 'get',
  path: '/v1/session',
  summary: 'The verified phone behind the session cookie',
  responses: {
    200: { description: 'A valid session', content: { 'application/json': { schema: SessionBody } } },
    ...errorResponses(401, 403),
  },
});

const logout = createRoute({
  method: 'post',
  path: '/v1/session/logout',
  summary: 'End the session (clears the cookie)',
  responses: {
    200: { description: 'Cookie cleared', content: { 'application/json': { schema: z.object({ loggedOut: z.literal(true) }) } } },
    ...errorResponses(403),
  },
});

function sessionSecrets(c: Context<AppEnv>): string[] {
  const config = c.get('config');
  const current = requireSecret(config, 'SESSION_SECRET', c.req.path);
  return [current, ...(config.session.previousSecret ? [config.session.previousSecret] : [])];
}

const cookieOptions = { httpOnly: true, secure: true, sameSite: 'Lax', path: '/' } as const;

export const sessionRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
sessionRoutes.use('/v1/otp/:requestId/verify', originGuard());
sessionRoutes.use('/v1/session', originGuard());
sessionRoutes.use('/v1/session/*', originGuard());

sessionRoutes
  .openapi(verify, async (c) => {
    const config = c.get('config');
    const [secret] = sessionSecrets(c);
    const request = await verifyOtp(
      c.env,
      config,
      { requestId: c.req.valid('param').requestId, code: c.req.valid('json').code },
      (promise) => c.executionCtx.waitUntil(promise),
    );
    const now = Math.floor(Date.now() / 1000);
    const payload: SessionPayload = { v: 1, phoneNumber: request.phone_number, requestId: request.id, iat: now, exp: now + config.session.ttlSeconds };
    setCookie(c, SESSION_COOKIE, await signSession(payload, secret!), { ...cookieOptions, maxAge: config.session.ttlSeconds });
    c.header('Cache-Control', 'no-store');
    return c.json({ verified: true as const }, 200);
  })
  .openapi(getSession, async (c) => {
    const session = await readSession(getCookie(c, SESSION_COOKIE), sessionSecrets(c), Date.now());
    if (!session) throw new ApiError('unauthorized', 'No valid session');
    c.header('Cache-Control', 'no-store');
    return c.json({ phoneNumber: session.phoneNumber, requestId: session.requestId, expiresAt: new Date(session.exp * 1000).toISOString() }, 200);
  })
  .openapi(logout, (c) => {
    deleteCookie(c, SESSION_COOKIE, cookieOptions);
    return c.json({ loggedOut: true as const }, 200);
  });
