import { sha256Hex } from '../crypto';

/**
 * API keys. A secret key (`sk_…`) is for an app's backend; a publishable key (`pk_…`) may sit in a
 * browser or a mobile app. Each is 40 random base62 characters (238 bits) after its prefix: far
 * beyond guessing, so a fast hash (SHA-256) is enough to store it and look it up, where a password
 * would need a slow one. The key is shown once, when it is made; D1 holds its hash and the first
 * characters (`prefix`) that let an operator tell keys apart.
 */

export type KeyKind = 'secret' | 'publishable';
export const KEY_KINDS = ['secret', 'publishable'] as const satisfies readonly KeyKind[];

const PREFIX_OF: Record<KeyKind, string> = { secret: 'sk_', publishable: 'pk_' };
const RANDOM_CHARACTERS = 40;
const VISIBLE_CHARACTERS = 11;
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** What may be a key at all: checked before any lookup, so garbage costs no D1 read. */
export const API_KEY_PATTERN = /^(sk|pk)_[A-Za-z0-9_]{16,128}$/;

/**
 * The development app's keys (`sk_dev_…`, `pk_dev_…`) are public, documented values. Random keys
 * are base62 and never contain `_`, so no generated key can take this form; outside the
 * development environment a key of this form is refused before any lookup.
 */
export function isDevelopmentKey(key: string): boolean {
  return /^(sk|pk)_dev_/.test(key);
}

export function keyKindOf(key: string): KeyKind | null {
  if (!API_KEY_PATTERN.test(key)) return null;
  return key.startsWith('sk_') ? 'secret' : 'publishable';
}

export function hashApiKey(key: string): Promise<string> {
  return sha256Hex(key);
}

export function visiblePrefix(key: string): string {
  return key.slice(0, VISIBLE_CHARACTERS);
}

/** A new key of `kind`, its hash and its visible prefix. */
export async function generateApiKey(kind: KeyKind): Promise<{ key: string; hash: string; prefix: string }> {
  const key = `${PREFIX_OF[kind]}${randomBase62(RANDOM_CHARACTERS)}`;
  return { key, hash: await hashApiKey(key), prefix: visiblePrefix(key) };
}

/** Uniform base62: bytes of 248 and above are drawn again, so no character is likelier than another. */
function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length))) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}
