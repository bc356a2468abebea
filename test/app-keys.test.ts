import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { forgetCachedOrigins } from '../src/apps/app-origins';
import { authenticateKey, forgetCachedKeys, KEY_CACHE_TTL_MS } from '../src/apps/authenticate';
import { DEVELOPMENT_APP } from '../src/apps/development-app';
import { loadConfig } from '../src/config';
import { makeApp, TEST_APP, withKey } from './support/apps';
import { recordingQueue } from './support/faults';
import { uniquePhone } from './support/fixtures';
import { envWith, fetchWithEnv } from './support/worker';

const send = (headers: Record<string, string>, phoneNumber = uniquePhone(), testEnv: Env = env, base = 'https://otp.test') =>
  fetchWithEnv(
    new Request(`${base}/v1/otp`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ phoneNumber }) }),
    testEnv,
  );

const errorOf = async (response: Response) => (await response.json<{ error: { code: string } }>()).error.code;

describe('API keys on POST /v1/otp', () => {
  it('no key: 401 unauthorized with WWW-Authenticate, and nothing is recorded', async () => {
    const phone = uniquePhone();
    const response = await send({}, phone);
    expect(response.status).toBe(401);
    expect(response.headers.get('WWW-Authenticate')).toBe('Bearer');
    expect(await errorOf(response)).toBe('unauthorized');
    expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM otp_requests WHERE phone_number = ?1').bind(phone).first('n')).toBe(0);
  });

  it.each([
    ['a malformed key', 'Bearer not-a-key'],
    ['an unknown secret key', 'Bearer sk_0000000000000000000000000000000000000000'],
    ['an unknown publishable key', 'Bearer pk_0000000000000000000000000000000000000000'],
    ['a development key outside development', `Bearer ${DEVELOPMENT_APP.secretKey}`],
  ])('%s: 401 invalid_api_key', async (_, authorization) => {
    const response = await send({ Authorization: authorization });
    expect(response.status).toBe(401);
    expect(await errorOf(response)).toBe('invalid_api_key');
  });

  it('a revoked key stops at once in the isolate that learns of it; a disabled app’s keys too', async () => {
    const app = await makeApp();
    expect((await send(withKey({}, app.secretKey))).status).toBe(202);
    await env.DB.prepare('UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1')
      .bind(app.secretKeyId, Date.now() - 1)
      .run();
    forgetCachedKeys();
    const revoked = await send(withKey({}, app.secretKey));
    expect(revoked.status).toBe(401);
    expect(await errorOf(revoked)).toBe('invalid_api_key');

    const other = await makeApp();
    expect((await send(withKey({}, other.secretKey))).status).toBe(202);
    await env.DB.prepare('UPDATE apps SET disabled_at = ?2 WHERE id = ?1')
      .bind(other.id, Date.now() - 1)
      .run();
    forgetCachedKeys();
    expect((await send(withKey({}, other.secretKey))).status).toBe(401);
  });

  it('a rotated key works until its overlap ends, checked against the clock even while cached', async () => {
    const app = await makeApp();
    const config = loadConfig(env);
    const now = Date.now();
    await env.DB.prepare('UPDATE api_keys SET expires_at = ?2 WHERE id = ?1')
      .bind(app.secretKeyId, now + 60_000)
      .run();
    forgetCachedKeys();
    const options = { waitUntil: () => {} };
    expect((await authenticateKey(env.DB, config, app.secretKey, { ...options, now })).ok).toBe(true);
    expect(await authenticateKey(env.DB, config, app.secretKey, { ...options, now: now + 60_000 })).toEqual({ ok: false, reason: 'expired' });
  });

  it(`another isolate's revocation reaches this one within KEY_CACHE_TTL_MS (${KEY_CACHE_TTL_MS} ms)`, async () => {
    const app = await makeApp();
    const config = loadConfig(env);
    const options = { waitUntil: () => {} };
    const now = Date.now();
    expect((await authenticateKey(env.DB, config, app.secretKey, { ...options, now })).ok).toBe(true);
    // Revoked elsewhere: this isolate's cache is not told.
    await env.DB.prepare('UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1').bind(app.secretKeyId, now).run();
    expect((await authenticateKey(env.DB, config, app.secretKey, { ...options, now: now + KEY_CACHE_TTL_MS - 1 })).ok).toBe(true);
    expect(await authenticateKey(env.DB, config, app.secretKey, { ...options, now: now + KEY_CACHE_TTL_MS })).toEqual({ ok: false, reason: 'revoked' });
  });

  it('records when a key was last used', async () => {
    const app = await makeApp();
    const before = Date.now();
    expect((await send(withKey({}, app.secretKey))).status).toBe(202);
    const lastUsed = await env.DB.prepare('SELECT last_used_at FROM api_keys WHERE id = ?1').bind(app.secretKeyId).first<number>('last_used_at');
    expect(lastUsed).toBeGreaterThanOrEqual(before);
  });
});

describe('publishable keys', () => {
  it('are accepted from the app’s allowed origins only', async () => {
    const key = TEST_APP.publishableKey;
    expect((await send(withKey({ Origin: TEST_APP.origin }, key))).status).toBe(202);
    for (const headers of [{}, { Origin: 'https://evil.example' }, { Origin: 'null' }] as Array<Record<string, string>>) {
      const response = await send(withKey(headers, key));
      expect(response.status).toBe(403);
      expect(await errorOf(response)).toBe('forbidden_origin');
    }
  });

  it('cannot read a request’s status: 403 key_not_allowed', async () => {
    const created = await (await send(withKey({ Origin: TEST_APP.origin }, TEST_APP.publishableKey))).json<{ requestId: string }>();
    const response = await fetchWithEnv(
      new Request(`https://otp.test/v1/otp/${created.requestId}`, { headers: withKey({ Origin: TEST_APP.origin }, TEST_APP.publishableKey) }),
      env,
    );
    expect(response.status).toBe(403);
    expect(await errorOf(response)).toBe('key_not_allowed');
  });
});

describe('CORS follows the apps’ allowed origins', () => {
  it('a preflight from an app’s origin is answered, one from elsewhere is not', async () => {
    const origin = `https://cors-${crypto.randomUUID().slice(0, 8)}.example`;
    await makeApp({ allowedOrigins: [origin] });
    const preflight = (from: string) =>
      fetchWithEnv(
        new Request('https://otp.test/v1/otp', {
          method: 'OPTIONS',
          headers: { Origin: from, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' },
        }),
        env,
      );
    // This isolate may have read the origins before the app existed (they are cached for a key-cache TTL).
    forgetCachedOrigins();
    const allowed = await preflight(origin);
    expect(allowed.headers.get('Access-Control-Allow-Origin')).toBe(origin);
    expect(allowed.headers.get('Access-Control-Allow-Headers') ?? '').toMatch(/authorization/i);
    expect((await preflight('https://not-an-app.example')).headers.get('Access-Control-Allow-Origin')).toBeNull();
  });
});

describe('the development app', () => {
  it('exists on a development Worker with its documented keys, and its key works there', async () => {
    const queue = recordingQueue();
    const devEnv = envWith({ ENVIRONMENT: 'development' });
    const response = await send(withKey({}, DEVELOPMENT_APP.secretKey), uniquePhone(), { ...devEnv, SEND_QUEUE: queue.queue } as Env, 'http://localhost:8787');
    expect(response.status).toBe(202);
    expect(queue.sent).toHaveLength(1);
  });
});
