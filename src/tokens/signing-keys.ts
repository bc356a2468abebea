import { z } from 'zod';
import { type Config, ConfigError } from '../config';

/**
 * The keys verification tokens are signed with: TOKEN_SIGNING_KEY signs, TOKEN_SIGNING_KEY_PREVIOUS
 * (during a rotation) only keeps its public key published so that the tokens it signed still
 * verify. Each secret is a private EC P-256 JWK; it is imported once per isolate and value, and a
 * value that cannot sign ES256 is a deployment mistake, reported by name (never by content).
 */

export type SigningKeySecret = 'TOKEN_SIGNING_KEY' | 'TOKEN_SIGNING_KEY_PREVIOUS';

/** A public key as the JWKS publishes it: nothing private, whatever the secret held. */
export interface PublicSigningJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: PublicSigningJwk;
}

/** A signing key secret that is missing, or not a private EC P-256 JWK for ES256. A ConfigError, so unhandled it still answers `500 configuration_error`. */
export class SigningKeyError extends ConfigError {
  constructor(
    readonly secret: SigningKeySecret,
    readonly missing: boolean,
    readonly problem: string,
  ) {
    super([`${secret} ${problem}`]);
    this.name = 'SigningKeyError';
  }
}

export const ES256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
const P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/** 32 bytes (a P-256 coordinate or scalar), base64url without padding. */
const field32 = z.string().regex(/^[A-Za-z0-9_-]{43}$/);

const PrivateJwk = z.object({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: field32,
  y: field32,
  d: field32,
  kid: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/),
  alg: z.literal('ES256'),
});

/** What each field must be, for the error: the value itself is never repeated. */
const EXPECTED: Record<string, string> = {
  kty: 'kty must be "EC"',
  crv: 'crv must be "P-256"',
  x: 'x must be 32 bytes in base64url',
  y: 'y must be 32 bytes in base64url',
  d: 'd (the private part; a public key has none) must be 32 bytes in base64url',
  kid: 'kid must be 1 to 100 of A-Z a-z 0-9 . _ -',
  alg: 'alg must be "ES256"',
};

const MAX_CACHED = 8;
const cache = new Map<string, Promise<SigningKey>>();

/** The key new tokens are signed with. Throws SigningKeyError when TOKEN_SIGNING_KEY is missing or malformed. */
export function currentSigningKey(config: Config): Promise<SigningKey> {
  const value = config.secrets.TOKEN_SIGNING_KEY;
  if (value === undefined) return Promise.reject(new SigningKeyError('TOKEN_SIGNING_KEY', true, 'is not set'));
  return cachedImport('TOKEN_SIGNING_KEY', value);
}

/**
 * The public keys a token of this service may be signed with: the current one, then the previous
 * one while a rotation keeps it. Throws SigningKeyError when either is malformed, or when both
 * carry one kid for two different keys (a verifier picks the key by kid).
 */
export async function publicSigningKeys(config: Config): Promise<PublicSigningJwk[]> {
  const current = await currentSigningKey(config);
  const previousValue = config.secrets.TOKEN_SIGNING_KEY_PREVIOUS;
  if (previousValue === undefined) return [current.publicJwk];
  const previous = await cachedImport('TOKEN_SIGNING_KEY_PREVIOUS', previousValue);
  if (previous.kid !== current.kid) return [current.publicJwk, previous.publicJwk];
  // The same key set twice breaks nothing; two keys under one kid would.
  if (previous.publicJwk.x === current.publicJwk.x && previous.publicJwk.y === current.publicJwk.y) return [current.publicJwk];
  throw new SigningKeyError(
    'TOKEN_SIGNING_KEY_PREVIOUS',
    false,
    `has the kid of TOKEN_SIGNING_KEY ("${current.kid}") but another key: each key needs its own kid`,
  );
}

function cachedImport(secret: SigningKeySecret, value: string): Promise<SigningKey> {
  const cacheKey = `${secret}\n${value}`;
  const cached = cache.get(cacheKey);
  if (cached) return cached;
  // Only a handful of values ever exist per deployment; the bound is for tests that swap them.
  if (cache.size >= MAX_CACHED) cache.clear();
  const imported = importSigningKey(secret, value);
  cache.set(cacheKey, imported);
  imported.catch(() => cache.delete(cacheKey));
  return imported;
}

async function importSigningKey(secret: SigningKeySecret, value: string): Promise<SigningKey> {
  const malformed = (problem: string) => new SigningKeyError(secret, false, problem);
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw malformed('is not JSON: it must be a private EC P-256 JWK, as `npm run token-key` prints');
  }
  const parsed = PrivateJwk.safeParse(json);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((issue) => String(issue.path[0] ?? '')))];
    const problems = fields.map((field) => EXPECTED[field] ?? 'the value must be a JSON object');
    throw malformed(`is not a private EC P-256 JWK for ES256: ${problems.join('; ')}`);
  }
  const { kty, crv, x, y, d, kid } = parsed.data;
  let privateKey: CryptoKey;
  try {
    // The import checks that x, y is a point of the curve and that d is its private part: a key
    // that signed tokens no published key verifies cannot get past it.
    privateKey = await crypto.subtle.importKey('jwk', { kty, crv, x, y, d }, P256, false, ['sign']);
  } catch {
    throw malformed('is not a P-256 key pair: x and y are not a point of the curve, or d does not belong to them');
  }
  return { kid, privateKey, publicJwk: { kty, crv, x, y, kid, alg: 'ES256', use: 'sig' } };
}
