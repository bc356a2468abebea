import { env, SELF } from 'cloudflare:test';
import { createRemoteJWKSet, customFetch, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { deriveCode } from '../src/codes';
import { makeApp, TEST_APP, withKey } from './support/apps';
import { requestRow, TEST_OTP_SECRET, uniquePhone } from './support/fixtures';
import { envWith, fetchWithEnv } from './support/worker';

const ORIGIN = 'https://otp.test';
/** An app's backend, fetching the Worker's own key set. */
const keys = createRemoteJWKSet(new URL(`${ORIGIN}/.well-known/jwks.json`), { [customFetch]: (url, options) => SELF.fetch(url, options) });

async function sendAndVerify(app: { secretKey: string }, options: { key?: string; headers?: Record<string, string>; testEnv?: Env } = {}) {
  const testEnv = options.testEnv ?? env;
  const phoneNumber = uniquePhone();
  const created = await fetchWithEnv(
    new Request(`${ORIGIN}/v1/otp`, {
      method: 'POST',
      headers: withKey({ 'Content-Type': 'application/json' }, app.secretKey),
      body: JSON.stringify({ phoneNumber }),
    }),
    testEnv,
  );
  const { requestId } = await created.json<{ requestId: string }>();
  const code = await deriveCode(TEST_OTP_SECRET, requestId, 6);
  const verified = await fetchWithEnv(
    new Request(`${ORIGIN}/v1/otp/${requestId}/verify`, {
      method: 'POST',
      headers: withKey({ 'Content-Type': 'application/json', ...options.headers }, options.key ?? app.secretKey),
      body: JSON.stringify({ code }),
    }),
    testEnv,
  );
  return { phoneNumber, requestId, verified, body: await verified.json<Record<string, unknown>>() };
}

describe('a verification hands the app a token its backend checks on its own', () => {
  it('secret key: the token verifies with jose against /.well-known/jwks.json for this app, and is refused for another', async () => {
    const app = await makeApp();
    const other = await makeApp();
    const { phoneNumber, requestId, verified, body } = await sendAndVerify(app);
    expect(verified.status).toBe(200);
    expect(body).toMatchObject({ verified: true, requestId, phoneNumber });
    const { payload } = await jwtVerify(body.token as string, keys, { issuer: ORIGIN, audience: app.id, algorithms: ['ES256'] });
    expect(payload).toMatchObject({ sub: phoneNumber, phone_number: phoneNumber, phone_number_verified: true, jti: requestId, aud: app.id });
    expect(new Date(body.tokenExpiresAt as string).getTime()).toBe((payload.exp as number) * 1000);
    expect(payload.iat).toBe(Math.floor((await requestRow(requestId)).verified_at! / 1000));
    await expect(jwtVerify(body.token as string, keys, { issuer: ORIGIN, audience: other.id, algorithms: ['ES256'] })).rejects.toThrow(/aud/);
  });

  it('publishable key: a token too, but not the number in the answer', async () => {
    const { verified, body } = await sendAndVerify(TEST_APP, { key: TEST_APP.publishableKey, headers: { Origin: TEST_APP.origin } });
    expect(verified.status).toBe(200);
    expect(body.phoneNumber).toBeUndefined();
    await expect(jwtVerify(body.token as string, keys, { issuer: ORIGIN, audience: TEST_APP.id })).resolves.toBeTruthy();
  });

  it('without TOKEN_SIGNING_KEY: 500 naming it, and the guess is not counted', async () => {
    const withoutKey = envWith({});
    delete (withoutKey as unknown as Record<string, unknown>).TOKEN_SIGNING_KEY;
    const { requestId, verified, body } = await sendAndVerify(TEST_APP, { testEnv: withoutKey });
    expect(verified.status).toBe(500);
    expect(body).toMatchObject({ error: { code: 'configuration_error', missingSecret: 'TOKEN_SIGNING_KEY' } });
    expect((await requestRow(requestId)).verify_attempts).toBe(0);
  });

  it('an app without the session cookie setting gets no cookie; one with it does', async () => {
    const app = await makeApp();
    const plain = await sendAndVerify(app);
    expect(plain.verified.headers.get('Set-Cookie')).toBeNull();
    const cookied = await sendAndVerify(TEST_APP);
    expect(cookied.verified.headers.get('Set-Cookie')).toMatch(/^otp_session=/);
  });
});
