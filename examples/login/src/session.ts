/**
 * The example app's own session, started once the backend has checked a verification token: a
 * cookie holding the verified number, signed with HMAC-SHA256 (SESSION_SECRET). The service's
 * session cookie is not used: the app and the service are on different sites.
 */

const COOKIE = 'example_session';
/** How long a login lasts here: the app's choice, not the service's. */
export const SESSION_SECONDS = 8 * 3600;

export interface Session {
  phoneNumber: string;
  /** The verified request, to show its webhook events. */
  requestId: string;
  expiresAt: number;
}

const encoder = new TextEncoder();
const key = (secret: string) => crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
const fromBase64url = (text: string) => Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (char) => char.charCodeAt(0));

/** The `Set-Cookie` value that starts `session`; `Secure` when the page is served over https. */
export async function sessionCookie(session: Session, secret: string, secure: boolean): Promise<string> {
  const payload = base64url(encoder.encode(JSON.stringify(session)));
  const signature = base64url(new Uint8Array(await crypto.subtle.sign('HMAC', await key(secret), encoder.encode(payload))));
  return `${COOKIE}=${payload}.${signature}; Max-Age=${SESSION_SECONDS}; Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** The session the request's cookie holds, if it is this app's, untampered and unexpired. */
export async function readSession(request: Request, secret: string, now: number): Promise<Session | null> {
  const cookie = (request.headers.get('Cookie') ?? '')
    .split(';')
    .map((part) => part.trim())
    .find((part) => part.startsWith(`${COOKIE}=`));
  const [payload, signature] = cookie?.slice(COOKIE.length + 1).split('.') ?? [];
  if (!payload || !signature) return null;
  try {
    if (!(await crypto.subtle.verify('HMAC', await key(secret), fromBase64url(signature), encoder.encode(payload)))) return null;
    const session = JSON.parse(new TextDecoder().decode(fromBase64url(payload))) as Session;
    return session.expiresAt > now ? session : null;
  } catch {
    return null;
  }
}
