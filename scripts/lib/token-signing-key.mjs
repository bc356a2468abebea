/**
 * A new verification-token signing key: a private EC P-256 JWK with `kid` and `alg`, the form
 * TOKEN_SIGNING_KEY takes (src/tokens/signing-keys.ts). The kid says when the key was made, so
 * that operators can tell the current key from the previous one in the JWKS.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';

/** `k_20261201_3f9a1c2b7d`: the day (UTC) and 5 random bytes. */
export function newKeyId(now = new Date()) {
  return `k_${now.toISOString().slice(0, 10).replaceAll('-', '')}_${randomBytes(5).toString('hex')}`;
}

/** The JWK as an object: { kty, crv, x, y, d, kid, alg }. */
export function newTokenSigningKey(now = new Date()) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y, d } = privateKey.export({ format: 'jwk' });
  return { kty, crv, x, y, d, kid: newKeyId(now), alg: 'ES256' };
}
