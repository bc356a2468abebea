import type { Config } from '../config';
import { type AddressClass, classifyIPv4, classifyIPv6, parseIPv4, parseIPv6 } from './ip-literals';

/**
 * The rules a webhook URL must meet, checked when an operator sets it and again before every post
 * (docs/webhooks.md#url-rules): https (plain http only to this machine, outside production), no
 * credentials, never an IP literal that is not public unicast, and in production never a name
 * that only a local network resolves. Names are not resolved here: what a public name points to is
 * the DNS owner's, and Cloudflare's network, where the post is made from, reaches no private
 * network anyway.
 */

export const URL_REFUSALS = [
  'invalid_url',
  'url_too_long',
  'https_required',
  'credentials_in_url',
  'private_address',
  'loopback_address',
  'link_local_address',
  'unique_local_address',
  'reserved_address',
  'local_hostname',
] as const;
export type UrlRefusal = (typeof URL_REFUSALS)[number];

export type UrlCheck = { ok: true; url: string } | { ok: false; reason: UrlRefusal; message: string };

export const WEBHOOK_URL_MAX_LENGTH = 2048;

/** Receivers on this machine, allowed outside production (the example app, a test's receiver). */
const THIS_MACHINE = new Set(['localhost', '127.0.0.1']);

/** Names only a local network (or the machine itself) resolves. */
const LOCAL_SUFFIXES = ['.localhost', '.local', '.internal', '.lan', '.localdomain', '.home.arpa'];

const ADDRESS_REFUSAL: Record<Exclude<AddressClass, 'public'>, { reason: UrlRefusal; what: string }> = {
  private: { reason: 'private_address', what: 'a private network address' },
  loopback: { reason: 'loopback_address', what: 'a loopback address' },
  link_local: { reason: 'link_local_address', what: 'a link-local address' },
  unique_local: { reason: 'unique_local_address', what: 'a unique-local address' },
  reserved: { reason: 'reserved_address', what: 'a special-purpose address, not a public one' },
};

export function checkWebhookUrl(raw: string, environment: Config['environment']): UrlCheck {
  const refuse = (reason: UrlRefusal, message: string): UrlCheck => ({ ok: false, reason, message });
  if (raw.length > WEBHOOK_URL_MAX_LENGTH) return refuse('url_too_long', `must be at most ${WEBHOOK_URL_MAX_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('invalid_url', 'is not an absolute URL');
  }
  const host = url.hostname.toLowerCase();
  const name = host.replace(/\.+$/, '');
  const local = environment !== 'production' && THIS_MACHINE.has(name);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    return refuse('https_required', environment === 'production' ? 'must be an https URL' : 'must be an https URL (http only to localhost or 127.0.0.1)');
  }
  if (url.username || url.password) return refuse('credentials_in_url', 'must not carry a user name or password; the signature authenticates each post');
  if (local) return { ok: true, url: url.href };

  const address4 = parseIPv4(name);
  const address6 = host.startsWith('[') ? parseIPv6(host) : null;
  if (host.startsWith('[') && !address6) return refuse('invalid_url', 'has an IPv6 address that cannot be read');
  const kind = address4 !== null ? classifyIPv4(address4) : address6 ? classifyIPv6(address6) : null;
  if (kind !== null && kind !== 'public') {
    const refusal = ADDRESS_REFUSAL[kind];
    return refuse(refusal.reason, `points at ${refusal.what} (${host}); a webhook must reach a public address`);
  }
  if (kind === null && environment === 'production' && isLocalName(name)) {
    return refuse('local_hostname', `names a host only a local network resolves (${name}); use a public name`);
  }
  return { ok: true, url: url.href };
}

function isLocalName(name: string): boolean {
  return name === 'localhost' || !name.includes('.') || LOCAL_SUFFIXES.some((suffix) => name.endsWith(suffix));
}
