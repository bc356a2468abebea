import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { isSessionRevoked, revokeSession } from '../../db/session-revocations';
import { ApiError } from '../../errors';
import { newSessionId } from '../../ids';
import { currentSigningKey } from '../../tokens/signing-keys';
import { signVerificationToken, tokenIssuer } from '../../tokens/verification-token';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { appAuth } from '../middleware/app-auth';
import { originGuard } from '../middleware/origin-guard';
import { SECRET_OR_PUBLISHABLE_KEY, tag } from '../openapi-document';
import { ANY_APP_KEY, ANY_BODY, ANY_ROUTE, errorResponses, JSON_BODY, responseHeaders, STORAGE } from '../openapi-responses';
import { requireSecret, withSigningKeys } from '../required-secret';
import { RequestIdSchema } from '../schemas';
import { readSession, SESSION_COOKIE, type Session, signSession } from '../session-cookie';
import { verifyOtp } from '../verify-otp';

const VerifyBody = z
  .object({
    code: z
      .string({ error: 'is required and must be a string of digits' })
      .openapi({ example: '123456', description: 'Exactly OTP_LENGTH ASCII digits (6 by default)' }),
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

const VerifiedBody = z
  .object({
    verified: z.literal(true),
    token: z.string().openapi({
      description:
        "A JWT (ES256) the app's backend checks against /.well-known/jwks.json: iss, aud (the app id), sub and phone_number (the number), phone_number_verified, iat, exp, jti (the request id)",
    }),
    tokenExpiresAt: z.string().openapi({ format: 'date-time' }),
    requestId: z.string().optional().openapi({ description: 'Secret key only' }),
    phoneNumber: z.string().optional().openapi({ example: '+919876543210', description: 'Secret key only: the verified number, in full' }),
    verifiedAt: z.string().optional().openapi({ format: 'date-time', description: 'Secret key only' }),
  })
  .openapi('Verified');

const verify = createRoute({
  method: 'post',
  path: '/v1/otp/{requestId}/verify',
  operationId: 'verifyOtp',
  tags: tag('Codes'),
  security: SECRET_OR_PUBLISHABLE_KEY,
  summary: 'Check a code',
  description:
    "Takes the app's secret key or publishable key; another app's request answers 404. " +
    "A code that is not exactly the request's length in ASCII digits (the app's `otpLength`, else OTP_LENGTH): 400 `invalid_code_format`, which costs no attempt. Wrong code: 400 `invalid_code` with `attemptsRemaining`. After too many wrong codes (per request, and per phone across requests, then with `Retry-After`): 429 `too_many_attempts`, even for the right code. 410 `expired`, 410 `superseded` (a newer code exists), 409 `already_verified` (a code works once). " +
    "On success: a verification token (a JWT the app's backend checks against /.well-known/jwks.json); with the secret key the answer also carries the verified number; when the app's `sessionCookie` setting is on, a signed, HttpOnly session cookie is set.",
  request: {
    params: z.object({ requestId: RequestIdSchema }),
    body: { required: true, content: { 'application/json': { schema: VerifyBody } } },
  },
  responses: {
    200: {
      description: 'Verified; `Set-Cookie` carries the session cookie when the app has `sessionCookie` on',
      headers: responseHeaders('Set-Cookie', 'Cache-Control'),
      content: { 'application/json': { schema: VerifiedBody } },
    },
    ...errorResponses(ANY_ROUTE, ANY_APP_KEY, JSON_BODY, [
      'invalid_code_format',
      'invalid_code',
      'not_found',
      'too_many_attempts',
      'already_verified',
      'expired',
      'superseded',
    ]),
  },
});

const getSession = createRoute({
  method: 'get',
  path: '/v1/session',
  operationId: 'getSession',
  tags: tag('Sessions'),
  security: [{ sessionCookie: [] }],
  summary: 'The verified phone behind the session cookie',
  description:
    'A missing, expired, tampered or revoked (logged out, or revoked by an operator) session cookie: 401 `unauthorized`. A request from a foreign origin: 403 `forbidden_origin`.',
  responses: {
    200: { description: 'A valid session', headers: responseHeaders('Cache-Control'), content: { 'application/json': { schema: SessionBody } } },
    ...errorResponses(ANY_ROUTE, STORAGE, ['unauthorized', 'forbidden_origin']),
  },
});

const logout = createRoute({
  method: 'post',
  path: '/v1/session/logout',
  operationId: 'logout',
  tags: tag('Sessions'),
  // The cookie is optional: without one the call only clears it.
  security: [{ sessionCookie: [] }, {}],
  summary: 'End the session: revoke it server-side and clear the cookie',
  description:
    'The session is refused from the next request on, even if a copy of the cookie was kept. Without a valid session cookie it only clears the cookie.',
  responses: {
    200: {
      description: 'Session revoked, cookie cleared',
      headers: responseHeaders('Set-Cookie', 'Cache-Control'),
      content: { 'application/json': { schema: z.object({ loggedOut: z.literal(true) }) } },
    },
    ...errorResponses(ANY_ROUTE, ANY_BODY, STORAGE, ['forbidden_origin']),
  },
});

function sessionSecrets(c: Context<AppEnv>): string[] {
  const config = c.get('config');
  const current = requireSecret(config, 'SESSION_SECRET', c.req.path);
  return [current, ...(config.secrets.SESSION_SECRET_PREVIOUS ? [config.secrets.SESSION_SECRET_PREVIOUS] : [])];
}

const cookieOptions = { httpOnly: true, secure: true, sameSite: 'Lax', path: '/' } as const;

export const sessionRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
sessionRoutes.on('POST', '/v1/otp/:requestId/verify', appAuth(['secret', 'publishable']));
sessionRoutes.use('/v1/otp/:requestId/verify', originGuard());
sessionRoutes.use('/v1/session', originGuard());
sessionRoutes.use('/v1/session/*', originGuard());

sessionRoutes
  .openapi(verify, async (c) => {
    const config = c.get('config');
    const caller = c.get('caller');
    // Checked before the code is: a missing secret or signing key must not cost the caller an attempt.
    const [secret] = caller.settings.sessionCookie ? sessionSecrets(c) : [];
    await withSigningKeys(c.req.path, () => currentSigningKey(config));
    const request = await verifyOtp(c.env, config, caller, { requestId: c.req.valid('param').requestId, code: c.req.valid('json').code }, (promise) =>
      c.executionCtx.waitUntil(promise),
    );
    const verifiedAt = request.verified_at ?? Date.now();
    const token = await withSigningKeys(c.req.path, () =>
      signVerificationToken(config, {
        issuer: tokenIssuer(config, c.req.url),
        audience: caller.appId,
        phoneNumber: request.phone_number,
        requestId: request.id,
        verifiedAt,
      }),
    );
    if (secret) {
      const session: Session = {
        sessionId: newSessionId(),
        phoneNumber: request.phone_number,
        requestId: request.id,
        issuedAt: verifiedAt,
        expiresAt: verifiedAt + config.session.ttlSeconds * 1000,
      };
      setCookie(c, SESSION_COOKIE, await signSession(session, secret), { ...cookieOptions, maxAge: config.session.ttlSeconds });
    }
    c.header('Cache-Control', 'no-store');
    // The full number goes only to the app's backend; a browser already knows what it typed.
    const backendOnly =
      caller.keyKind === 'secret' ? { requestId: request.id, phoneNumber: request.phone_number, verifiedAt: new Date(verifiedAt).toISOString() } : {};
    return c.json({ verified: true as const, token: token.token, tokenExpiresAt: new Date(token.expiresAt).toISOString(), ...backendOnly }, 200);
  })
  .openapi(getSession, async (c) => {
    const session = await readSession(getCookie(c, SESSION_COOKIE), sessionSecrets(c), Date.now());
    if (!session || (await isSessionRevoked(c.env.DB, session))) throw new ApiError('unauthorized', 'No valid session');
    c.header('Cache-Control', 'no-store');
    return c.json({ phoneNumber: session.phoneNumber, requestId: session.requestId, expiresAt: new Date(session.expiresAt).toISOString() }, 200);
  })
  .openapi(logout, async (c) => {
    const session = await readSession(getCookie(c, SESSION_COOKIE), sessionSecrets(c), Date.now());
    // Revoked before answering: a copy of the cookie is refused from the very next request.
    if (session) await revokeSession(c.env.DB, session, Date.now());
    deleteCookie(c, SESSION_COOKIE, cookieOptions);
    c.header('Cache-Control', 'no-store');
    return c.json({ loggedOut: true as const }, 200);
  });
