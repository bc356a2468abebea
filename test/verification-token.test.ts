import { env, SELF } from 'cloudflare:test';
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, errors, type JWTVerifyOptions, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { SigningKeyError } from '../src/tokens/signing-keys';
import { signVerificationToken, tokenIssuer, type VerificationTokenClaims } from '../src/tokens/verification-token';
import { TEST_TOKEN_SIGNING_KEY, TEST_TOKEN_SIGNING_KEY_NEXT } from './support/secrets';
import { envWith, fetchWithEnv } from './support/worker';

const ORIGIN = 'https://otp.test';
const JWKS_URL = new URL(`${ORIGIN}/.well-known/jwks.json`);
const APP_A = 'app_Zk3Qm9Lx2Vb7Tn4Wc8Rp1S';
const APP_B = 'app_Yh5Pn2Kw8Jd4Mf6Gs0Qa3B';
/** A fixed instant (with milliseconds, which the token drops): tokens are checked against injected times, never the clock. */
const VERIFIED_AT = Date.UTC(2026, 11, 1, 12, 0, 0, 250);
const IAT = Math.floor(VERIFIED_AT / 1000);

const kidOf = (jwk: string) => (JSON.parse(jwk) as { kid: string }).kid;
const OLD_KID = kidOf(TEST_TOKEN_SIGNING_KEY);
const NEW_KID = kidOf(TEST_TOKEN_SIGNING_KEY_NEXT);

const claims = (overrides: Partial<VerificationTokenClaims> = {}): VerificationTokenClaims => ({
  issuer: ORIGIN,
  audience: APP_A,
  phoneNumber: '+919876543210',
  requestId: 'otp_AbCdEfGhIjKlMnOpQrStUv',
  verifiedAt: VERIFIED_AT,
  ...overrides,
});

const sign = (testEnv: Env = env, overrides: Partial<VerificationTokenClaims> = {}) => signVerificationToken(loadConfig(testEnv), claims(overrides));

/**
 * What an app's backend does: fetch the Worker's own `/.well-known/jwks.json` (through SELF, or
 * the fetch handler with another env) and check a token against it, at an injected time.
 */
function appBackendKeys(testEnv?: Env) {
  return createRemoteJWKSet(JWKS_URL, {
    [customFetch]: (url, options) => (testEnv ? fetchWithEnv(new Request(url, options), testEnv) : SELF.fetch(url, options)),
  });
}

const check = (token: string, keys = appBackendKeys(), options: JWTVerifyOptions = {}) =>
  jwtVerify(token, keys, { issuer: ORIGIN, audience: APP_A, algorithms: ['ES256'], currentDate: new Date(VERIFIED_AT + 1000), ...options });

describe('verification tokens', () => {
  it("verify with jose against the Worker's own JWKS, with every claim and the header apps rely on", async () => {
    const { token, expiresAt } = await sign();
    const { payload, protectedHeader } = await check(token);
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'JWT', kid: OLD_KID });
    expect(payload).toEqual({
      iss: ORIGIN,
      aud: APP_A,
      sub: '+919876543210',
      phone_number: '+919876543210',
      phone_number_verified: true,
      iat: IAT,
      exp: IAT + 300,
      jti: 'otp_AbCdEfGhIjKlMnOpQrStUv',
    });
    expect(expiresAt).toBe((IAT + 300) * 1000);
    // JWS wants the raw r || s (64 bytes, 86 base64url characters), not DER.
    expect(token.split('.')[2]).toMatch(/^[A-Za-z0-9_-]{86}$/);
  });

  it('a token for app A is refused by a check for app B', async () => {
    const { token } = await sign();
    await expect(check(token, appBackendKeys(), { audience: APP_B })).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' });
    const forB = await sign(env, { audience: APP_B });
    await expect(check(forB.token)).rejects.toBeInstanceOf(errors.JWTClaimValidationFailed);
    expect((await check(forB.token, appBackendKeys(), { audience: APP_B })).payload.aud).toBe(APP_B);
  });

  it('expires TOKEN_TTL_SECONDS after verifiedAt', async () => {
    const { token } = await sign();
    await check(token, appBackendKeys(), { currentDate: new Date((IAT + 299) * 1000) });
    await expect(check(token, appBackendKeys(), { currentDate: new Date((IAT + 301) * 1000) })).rejects.toBeInstanceOf(errors.JWTExpired);

    const short = await sign(envWith({ TOKEN_TTL_SECONDS: '60' }));
    expect(short.expiresAt).toBe((IAT + 60) * 1000);
    await expect(check(short.token, appBackendKeys(), { currentDate: new Date((IAT + 61) * 1000) })).rejects.toBeInstanceOf(errors.JWTExpired);
  });

  it('a tampered token is refused', async () => {
    const { token } = await sign();
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const forged = btoa(JSON.stringify({ ...JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))), sub: '+919876543211' }))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '');
    await expect(check(`${header}.${forged}.${signature}`)).rejects.toBeInstanceOf(errors.JWSSignatureVerificationFailed);
  });

  it("rotation: the old key's tokens verify while it is TOKEN_SIGNING_KEY_PREVIOUS, and are refused once it is retired", async () => {
    const before = await sign();
    const rotated = envWith({ TOKEN_SIGNING_KEY: TEST_TOKEN_SIGNING_KEY_NEXT, TOKEN_SIGNING_KEY_PREVIOUS: TEST_TOKEN_SIGNING_KEY });
    const after = await sign(rotated);
    expect(decodeProtectedHeader(after.token).kid).toBe(NEW_KID);

    const duringRotation = appBackendKeys(rotated);
    expect((await check(before.token, duringRotation)).protectedHeader.kid).toBe(OLD_KID);
    expect((await check(after.token, duringRotation)).protectedHeader.kid).toBe(NEW_KID);

    const retired = envWith({ TOKEN_SIGNING_KEY: TEST_TOKEN_SIGNING_KEY_NEXT, TOKEN_SIGNING_KEY_PREVIOUS: '' });
    const afterRetirement = appBackendKeys(retired);
    await expect(check(before.token, afterRetirement)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect((await check(after.token, afterRetirement)).protectedHeader.kid).toBe(NEW_KID);
  });

  it('iss is TOKEN_ISSUER when set, else the origin the request reached', () => {
    expect(tokenIssuer(loadConfig(env), 'https://otp.example.com/v1/otp/otp_x/verify')).toBe('https://otp.example.com');
    expect(tokenIssuer(loadConfig(envWith({ TOKEN_ISSUER: 'https://id.example.com' })), 'https://otp.example.com/x')).toBe('https://id.example.com');
    expect(() => loadConfig(envWith({ TOKEN_ISSUER: 'http://id.example.com' }))).toThrow(/TOKEN_ISSUER must be empty or an https URL/);
    expect(() => loadConfig(envWith({ TOKEN_TTL_SECONDS: '59' }))).toThrow(/TOKEN_TTL_SECONDS must be an integer from 60 to 86400/);
  });
});

/** TEST_TOKEN_SIGNING_KEY with some fields changed (undefined: removed). */
const keyWith = (fields: Record<string, string | undefined>) => JSON.stringify({ ...JSON.parse(TEST_TOKEN_SIGNING_KEY), ...fields });
const PRIVATE_PART = (JSON.parse(TEST_TOKEN_SIGNING_KEY) as { d: string }).d;
const OTHER_PRIVATE_PART = (JSON.parse(TEST_TOKEN_SIGNING_KEY_NEXT) as { d: string }).d;

describe('a malformed TOKEN_SIGNING_KEY', () => {
  it.each([
    ['not JSON', 'not json', /is not JSON/],
    ['a public key (no d)', keyWith({ d: undefined }), /d \(the private part; a public key has none\) must be 32 bytes/],
    ['another curve', keyWith({ crv: 'P-384' }), /crv must be "P-256"/],
    ['no kid', keyWith({ kid: undefined }), /kid must be/],
    ['another algorithm', keyWith({ alg: 'RS256' }), /alg must be "ES256"/],
    ['a point off the curve', keyWith({ x: 'A'.repeat(43) }), /is not a P-256 key pair/],
    ["another key's private part", keyWith({ d: OTHER_PRIVATE_PART }), /is not a P-256 key pair: .* or d does not belong to them/],
  ])('%s: signing throws a configuration error naming TOKEN_SIGNING_KEY, never its value', async (_, value, problem) => {
    const attempt = sign(envWith({ TOKEN_SIGNING_KEY: value }));
    await expect(attempt).rejects.toBeInstanceOf(SigningKeyError);
    const error = (await attempt.catch((caught: unknown) => caught)) as SigningKeyError;
    expect(error).toMatchObject({ secret: 'TOKEN_SIGNING_KEY', missing: false });
    expect(error.message).toMatch(problem);
    expect(error.message).toMatch(/^Invalid configuration: TOKEN_SIGNING_KEY /);
    for (const secretPart of [PRIVATE_PART, OTHER_PRIVATE_PART, 'A'.repeat(43)]) expect(error.message).not.toContain(secretPart);
  });

  it('unset: signing throws a configuration error saying so', async () => {
    await expect(sign(envWith({ TOKEN_SIGNING_KEY: '' }))).rejects.toMatchObject({ secret: 'TOKEN_SIGNING_KEY', missing: true });
  });

  it('signing never uses TOKEN_SIGNING_KEY_PREVIOUS, and a malformed one does not stop it', async () => {
    const { token } = await sign(envWith({ TOKEN_SIGNING_KEY_PREVIOUS: TEST_TOKEN_SIGNING_KEY_NEXT }));
    expect(decodeProtectedHeader(token).kid).toBe(OLD_KID);
    expect(decodeProtectedHeader((await sign(envWith({ TOKEN_SIGNING_KEY_PREVIOUS: 'not json' }))).token).kid).toBe(OLD_KID);
  });
});
