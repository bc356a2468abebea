import { createOtpClient, type OtpClient, OtpTokenError } from '@otp-dispatcher/client';
import type { Env } from './env';
import { SESSION_SECONDS, sessionCookie } from './session';

let cached: { key: string; client: OtpClient } | undefined;

/** One client per isolate (it keeps the service's public keys between calls). */
export function otpClient(env: Env): OtpClient {
  const key = `${env.OTP_SERVICE_URL} ${env.OTP_SECRET_KEY}`;
  if (cached?.key !== key) cached = { key, client: createOtpClient({ baseUrl: env.OTP_SERVICE_URL, key: env.OTP_SECRET_KEY }) };
  return cached.client;
}

/**
 * POST /api/session `{ token }`: the page hands over the verification token the service gave it;
 * this backend checks it on its own against the service's public keys (issuer, this app as the
 * audience, expiry), takes each token once (by its `jti`, the verified request's id), and starts
 * its own session for the verified number.
 */
export async function startSession(request: Request, env: Env): Promise<Response> {
  const { token } = (await request.json().catch(() => ({}))) as { token?: unknown };
  if (typeof token !== 'string') return Response.json({ error: 'token is required' }, { status: 400 });
  let verified: Awaited<ReturnType<OtpClient['verifyToken']>>;
  try {
    verified = await otpClient(env).verifyToken(token, { audience: env.OTP_APP_ID });
  } catch (error) {
    if (error instanceof OtpTokenError) return Response.json({ error: `The token was refused (${error.reason})` }, { status: 401 });
    throw error;
  }
  const taken = `token:${verified.requestId}`;
  if (await env.STORE.get(taken)) return Response.json({ error: 'This token was already used' }, { status: 409 });
  const now = Date.now();
  // Kept until the token expires anyway (KV keeps nothing for less than a minute).
  await env.STORE.put(taken, '1', { expirationTtl: Math.max(60, Math.ceil((verified.expiresAt.getTime() - now) / 1000)) });
  const session = { phoneNumber: verified.phoneNumber, requestId: verified.requestId, expiresAt: now + SESSION_SECONDS * 1000 };
  const cookie = await sessionCookie(session, env.SESSION_SECRET, new URL(request.url).protocol === 'https:');
  return Response.json({ phoneNumber: session.phoneNumber }, { headers: { 'Set-Cookie': cookie } });
}
