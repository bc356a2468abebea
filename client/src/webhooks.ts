import type { components } from './api-types.ts';
import { OtpWebhookError } from './errors.ts';

/** An event the service posts to an app's webhook (the document's `webhooks.otpEvent`); fields may be added. */
export type WebhookEvent = components['schemas']['WebhookEvent'];

/**
 * Checks a webhook the service sent, in the Standard Webhooks format
 * (https://www.standardwebhooks.com): `webhook-signature` holds one or more space-separated
 * `v1,<base64 HMAC-SHA256>` signatures of `{webhook-id}.{webhook-timestamp}.{body}` with the
 * endpoint's secret (`whsec_<base64>`), and the timestamp must be within `toleranceSeconds` of now,
 * so that a captured delivery cannot be replayed later. Uses Web Crypto only: runs in Node,
 * Workers, Deno, Bun and browsers.
 *
 * `payload` must be the body exactly as received (the raw text or bytes, before any JSON parsing).
 * Answers the parsed body (a WebhookEvent); throws OtpWebhookError (with its `reason`) when anything does not verify.
 */
export async function verifyWebhook<T = WebhookEvent>(
  payload: string | Uint8Array,
  headers: Headers | Record<string, string | string[] | undefined>,
  secret: string,
  options: { toleranceSeconds?: number; now?: () => number } = {},
): Promise<T> {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new OtpWebhookError('missing_headers', 'webhook-id, webhook-timestamp and webhook-signature are required');
  if (!/^\d{1,15}$/.test(timestamp)) throw new OtpWebhookError('invalid_timestamp', 'webhook-timestamp is not a number of seconds');
  const nowSeconds = Math.floor((options.now?.() ?? Date.now()) / 1000);
  if (Math.abs(nowSeconds - Number(timestamp)) > (options.toleranceSeconds ?? 300)) {
    throw new OtpWebhookError('timestamp_out_of_tolerance', 'webhook-timestamp is too far from now: an old delivery replayed, or a clock far off');
  }
  const body = typeof payload === 'string' ? payload : new TextDecoder().decode(payload);
  const key = await crypto.subtle.importKey('raw', secretBytes(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${body}`);
  for (const entry of signatures.split(' ')) {
    const [version, signature] = entry.split(',', 2);
    if (version !== 'v1' || !signature) continue;
    const bytes = base64Bytes(signature);
    // crypto.subtle.verify compares in constant time.
    if (bytes && (await crypto.subtle.verify('HMAC', key, bytes, signed))) return parse<T>(body);
  }
  throw new OtpWebhookError('invalid_signature', 'No signature in webhook-signature verifies with this secret');
}

function header(headers: Headers | Record<string, string | string[] | undefined>, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
  return Array.isArray(entry) ? entry.join(' ') : entry;
}

/** `whsec_<base64>` (or the bare base64) as key bytes. */
function secretBytes(secret: string): Uint8Array<ArrayBuffer> {
  const bytes = base64Bytes(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret);
  if (!bytes || bytes.length === 0) throw new OtpWebhookError('invalid_secret', 'The webhook secret is not whsec_ followed by base64');
  return bytes;
}

function base64Bytes(text: string): Uint8Array<ArrayBuffer> | null {
  try {
    return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
  } catch {
    return null;
  }
}

function parse<T>(body: string): T {
  try {
    return JSON.parse(body) as T;
  } catch {
    throw new OtpWebhookError('invalid_payload', 'The webhook body is not JSON');
  }
}
