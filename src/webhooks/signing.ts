import { hmacSha256 } from '../crypto';

/**
 * Webhook signing in the Standard Webhooks format (https://www.standardwebhooks.com/): a secret
 * `whsec_<base64>` per app, and per post `webhook-signature: v1,<base64 HMAC-SHA256 of
 * "{webhook-id}.{webhook-timestamp}.{body}">`.
 *
 * An app's secret is derived, never stored: HMAC-SHA256 of the app id and a version number under
 * the WEBHOOK_SECRET_KEY secret, so D1 (and its backups and exports) holds nothing a forger could
 * use, and a rotation is a new version number. The price: changing WEBHOOK_SECRET_KEY changes
 * every app's secret at once, without an overlap (docs/webhooks.md#secrets).
 */

const SECRET_PREFIX = 'whsec_';

export async function appSigningSecret(secretKey: string, appId: string, version: number): Promise<string> {
  const bytes = await hmacSha256(secretKey, `otp-dispatcher webhook signing secret\n${appId}\n${version}`);
  return `${SECRET_PREFIX}${base64(bytes)}`;
}

/** The secrets a post is signed with now: the current one, and the previous one while a rotation overlaps. */
export async function signingSecrets(
  secretKey: string,
  webhook: { app_id: string; secret_version: number; previous_secret_until: number | null },
  now: number,
): Promise<string[]> {
  const versions = [webhook.secret_version];
  if (webhook.previous_secret_until !== null && webhook.previous_secret_until > now && webhook.secret_version > 1) versions.push(webhook.secret_version - 1);
  return Promise.all(versions.map((version) => appSigningSecret(secretKey, webhook.app_id, version)));
}

/** The `webhook-signature` header: one `v1,<signature>` per secret, space-separated (receivers accept any that verifies). */
export async function signatureHeader(secrets: readonly string[], messageId: string, timestampSeconds: number, body: string): Promise<string> {
  const signed = new TextEncoder().encode(`${messageId}.${timestampSeconds}.${body}`);
  const signatures = await Promise.all(
    secrets.map(async (secret) => {
      const key = await crypto.subtle.importKey('raw', keyBytes(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
      return `v1,${base64(new Uint8Array(await crypto.subtle.sign('HMAC', key, signed)))}`;
    }),
  );
  return signatures.join(' ');
}

function keyBytes(secret: string): Uint8Array {
  const binary = atob(secret.slice(SECRET_PREFIX.length));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function base64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}
