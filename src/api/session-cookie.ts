import { z } from 'zod';
import { base64Url, hmacSha256, timingSafeEqualStrings } from '../crypto';

/**
 * The session is a signed cookie, `base64url(payload).base64url(HMAC-SHA256(secret, payload))`:
 * a tampered byte anywhere makes it worthless. Each session has an id (`sid`), so that logout and
 * operators can revoke it server-side (db/session-revocations.ts). A previous secret can be given
 * during rotation; it is accepted for reading, never used for signing.
 */

export const SESSION_COOKIE = 'otp_session';

/** What the cookie says, times in epoch milliseconds. */
export interface Session {
  sessionId: string;
  phoneNumber: string;
  requestId: string;
  issuedAt: number;
  expiresAt: number;
}

/** The signed payload: times in epoch milliseconds. */
const PayloadV2 = z.object({
  v: z.literal(2),
  sid: z.string().min(1),
  phoneNumber: z.string(),
  requestId: z.string(),
  iat: z.number().int(),
  exp: z.number().int(),
});

/**
 * Cookies signed before sessions had ids: times in epoch seconds. A code works once, so each was
 * the one session of its request, and the request id serves as its session id.
 */
const PayloadV1 = z.object({
  v: z.literal(1),
  phoneNumber: z.string(),
  requestId: z.string(),
  iat: z.number().int(),
  exp: z.number().int(),
});

const Payload = z.discriminatedUnion('v', [PayloadV2, PayloadV1]).transform(
  (payload): Session =>
    payload.v === 2
      ? { sessionId: payload.sid, phoneNumber: payload.phoneNumber, requestId: payload.requestId, issuedAt: payload.iat, expiresAt: payload.exp }
      : {
          sessionId: payload.requestId,
          phoneNumber: payload.phoneNumber,
          requestId: payload.requestId,
          issuedAt: payload.iat * 1000,
          expiresAt: payload.exp * 1000,
        },
);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export async function signSession(session: Session, secret: string): Promise<string> {
  const payload: z.input<typeof PayloadV2> = {
    v: 2,
    sid: session.sessionId,
    phoneNumber: session.phoneNumber,
    requestId: session.requestId,
    iat: session.issuedAt,
    exp: session.expiresAt,
  };
  return signPayload(payload, secret);
}

/** Signs any payload as it is; tests use it to make cookies of the earlier format. */
export async function signPayload(payload: unknown, secret: string): Promise<string> {
  const body = base64Url(encoder.encode(JSON.stringify(payload)));
  return `${body}.${base64Url(await hmacSha256(secret, body))}`;
}

/**
 * The session of a cookie signed with one of `secrets` and not expired at `now`, else null.
 * Whether it was revoked is the caller's question: that needs D1.
 */
export async function readSession(cookie: string | undefined, secrets: string[], now: number): Promise<Session | null> {
  if (!cookie || cookie.length > 2048) return null;
  const [body, signature, extra] = cookie.split('.');
  if (!body || !signature || extra !== undefined) return null;
  let valid = false;
  for (const secret of secrets) {
    if (await timingSafeEqualStrings(signature, base64Url(await hmacSha256(secret, body)))) valid = true;
  }
  if (!valid) return null;
  const parsed = Payload.safeParse(decodeJson(body));
  if (!parsed.success || parsed.data.expiresAt <= now) return null;
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
