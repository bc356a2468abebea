import { createRemoteJWKSet, customFetch, errors, type JWTPayload, jwtVerify } from 'jose';
import { OtpTokenError } from './errors.ts';

/** What a verification token says, once checked (docs/verification.md#verification-tokens). */
export interface VerifiedToken {
  /** The verified number, E.164. */
  phoneNumber: string;
  /** The verified request's id (`jti`): an app that must take each token once records it. */
  requestId: string;
  /** The app the code was verified for (`aud`). */
  appId: string;
  verifiedAt: Date;
  expiresAt: Date;
  /** Every claim, as signed. */
  claims: JWTPayload;
}

export interface TokenCheck {
  /** Your app's id (`app_…`): a token verified for another app is refused. */
  audience: string;
  /** The service's issuer (`TOKEN_ISSUER`); by default the origin of the client's `baseUrl`. */
  issuer?: string;
}

/**
 * A checker of verification tokens against the service's public keys (/.well-known/jwks.json),
 * fetched once and kept (jose fetches them again on an unknown `kid`, after a key rotation).
 */
export function tokenVerifier(baseUrl: string, fetchImpl?: typeof fetch) {
  const keys = createRemoteJWKSet(new URL('/.well-known/jwks.json', baseUrl), fetchImpl ? { [customFetch]: fetchImpl } : {});
  const defaultIssuer = new URL(baseUrl).origin;
  return async function verifyToken(token: string, check: TokenCheck): Promise<VerifiedToken> {
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, keys, {
        issuer: check.issuer ?? defaultIssuer,
        audience: check.audience,
        algorithms: ['ES256'],
        requiredClaims: ['sub', 'jti', 'iat', 'exp'],
      }));
    } catch (error) {
      if (error instanceof errors.JOSEError) throw new OtpTokenError(error.code, error.message);
      throw error;
    }
    const phoneNumber = claims.phone_number;
    if (typeof phoneNumber !== 'string' || claims.phone_number_verified !== true || phoneNumber !== claims.sub) {
      throw new OtpTokenError('ERR_JWT_CLAIM_VALIDATION_FAILED', 'The token does not say that a phone number was verified');
    }
    return {
      phoneNumber,
      requestId: claims.jti!,
      appId: check.audience,
      verifiedAt: new Date(claims.iat! * 1000),
      expiresAt: new Date(claims.exp! * 1000),
      claims,
    };
  };
}
