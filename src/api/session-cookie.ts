import { z } from 'zod';
import { base64Url, hmacSha256, timingSafeEqualStrings } from '../crypto';

/**
 * The session is a signed cookie, `base64url(payload).base64url(HMAC-SHA256(secret, payload))`:
 * no server-side store, and a tampered byte anywhere makes it worthless. A previous secret can
 * be given during rotation; it is accepted for reading, never used for signing.
 */

export const SESSION_COOKIE = 'otp_session';

const SessionPayload = z.object({
  v: z.literal(1),
  phoneNumber: z.string(),
  requestId: z.string(),
  iat: z.number().int(),
  exp: z.number().int(),
});
export type SessionPayload = z.infer<typeof SessionPayload>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export async function signSession(payload: SessionPayload, secret: string): Promise<string> {
  const body = base64Url(encoder.encode(JSON.stringify(payload)));
  return `${body}.${base64Url(await hmacSha256(secret, body))}`;
}

/** The payload of a cookie signed with one of `secrets` and not expired at `now`, else null. */
export async function readSession(cookie: string | undefined, secrets: string[], now: number): Promise<SessionPayload | null> {
  if (!cookie || cookie.length > 2048) return null;
  const [body, signature, extra] = cookie.split('.');
  if (!body || !signature || extra !== undefined) return null;
  let valid = false;
  for (const secret of secrets) {
    if (await timingSafeEqualStrings(signature, base64Url(await hmacSha256(secret, body)))) valid = true;
  }
  if (!valid) return null;
  const parsed = SessionPayload.safeParse(decodeJson(body));
  if (!parsed.success || parsed.data.exp * 1000 <= now) return null;
  return parsed.data;
}

function decodeJson(body: string): unknown {
  try {
    const binary = atob(body.replace(/-/g, '+').replace(/_/g, '/'));
    return JSON.parse(decoder.decode(Uint8Array.from(binary, (char) => char.charCodeAt(0))));
  } catch {
    return undefined;
  }
}
