import type { Config } from '../config';
import { base64Url } from '../crypto';
import { currentSigningKey, ES256 } from './signing-keys';

/**
 * The verification token: a compact JWS (an ES256 JWT) that tells an app's backend, on its own,
 * that this phone number was verified just now for this app. It checks the signature against the
 * public keys at `/.well-known/jwks.json`, then `iss`, `aud` (its app id) and `exp`.
 */

export interface VerificationTokenClaims {
  /** `iss`: TOKEN_ISSUER, or the origin the request reached (see tokenIssuer). */
  issuer: string;
  /** `aud`: the app id the code was verified for. */
  audience: string;
  /** `sub` and `phone_number`: the verified number, E.164. */
  phoneNumber: string;
  /** `jti`: the verified request's id. */
  requestId: string;
  /** When the code was verified, epoch ms: `iat`, and the start of the token's lifetime. */
  verifiedAt: number;
}

export interface VerificationToken {
  token: string;
  /** `exp` in epoch ms. */
  expiresAt: number;
}

const encoder = new TextEncoder();
const encodeJson = (value: unknown) => base64Url(encoder.encode(JSON.stringify(value)));

/**
 * Signs a verification token with TOKEN_SIGNING_KEY, valid for TOKEN_TTL_SECONDS from
 * `verifiedAt` (times in the token are whole seconds). Throws SigningKeyError (a ConfigError)
 * when the key is missing or malformed.
 */
export async function signVerificationToken(config: Config, claims: VerificationTokenClaims): Promise<VerificationToken> {
  const key = await currentSigningKey(config);
  const iat = Math.floor(claims.verifiedAt / 1000);
  const exp = iat + config.tokens.ttlSeconds;
  const header = { alg: 'ES256', typ: 'JWT', kid: key.kid };
  const payload = {
    iss: claims.issuer,
    aud: claims.audience,
    sub: claims.phoneNumber,
    phone_number: claims.phoneNumber,
    phone_number_verified: true,
    iat,
    exp,
    jti: claims.requestId,
  };
  const signingInput = `${encodeJson(header)}.${encodeJson(payload)}`;
  // WebCrypto's ECDSA signature is r || s, 32 bytes each: the very form JWS ES256 takes (RFC 7518
  // section 3.4), not the DER that OpenSSL-style APIs give.
  const signature = new Uint8Array(await crypto.subtle.sign(ES256, key.privateKey, encoder.encode(signingInput)));
  return { token: `${signingInput}.${base64Url(signature)}`, expiresAt: exp * 1000 };
}

/** The tokens' `iss`: TOKEN_ISSUER when set, else the origin of the URL the request reached (`https://otp.example.com`). */
export function tokenIssuer(config: Config, requestUrl: string): string {
  return config.tokens.issuer ?? new URL(requestUrl).origin;
}
