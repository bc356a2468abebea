import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';
import {
  checkTurnstile,
  STUB_FAIL_TOKEN,
  STUB_PASS_TOKEN,
  TURNSTILE_TOKEN_MAX_LENGTH,
  TurnstileConfigurationError,
  TurnstileUnavailableError,
  turnstileError,
} from '../src/turnstile/siteverify';
import { interceptOrigin, json, type Responder } from './support/outbound';
import { TEST_SECRETS } from './support/secrets';
import { envWith } from './support/worker';

// vitest.config.ts points siteverify at an origin of its own; the tests answer for it.
const VERIFY_URL = new URL(loadConfig(env).turnstile.verifyUrl);
const SITEVERIFY = `POST ${VERIFY_URL.pathname}`;
const TOKEN = '0.zV1dHkQpTurnstileToken-like_value.signature';
const NOW = Date.parse('2026-11-20T10:00:00Z');

const configWith = (vars: Record<string, string> = {}) => loadConfig(envWith(vars));
const siteverify = (respond: Responder) => interceptOrigin(VERIFY_URL.origin, { [SITEVERIFY]: respond });

/** What siteverify says of a token solved 10 s ago on app.example.com. */
const passed = (fields: Record<string, unknown> = {}) =>
  json(200, {
    success: true,
    'error-codes': [],
    challenge_ts: new Date(NOW - 10_000).toISOString(),
    hostname: 'app.example.com',
    action: '',
    cdata: '',
    ...fields,
  });
const refused = (...errorCodes: string[]) => json(200, { success: false, 'error-codes': errorCodes, messages: [] });

const check = (input: Partial<Parameters<typeof checkTurnstile>[1]> = {}, config = configWith()) =>
  checkTurnstile(config, { token: TOKEN, now: NOW, ...input });

describe('checkTurnstile: what is refused before any call', () => {
  it('no token: missing, and siteverify is not called', async () => {
    const calls = siteverify(() => passed());
    expect(await check({ token: undefined })).toEqual({ ok: false, reason: 'missing', errorCodes: [] });
    expect(calls).toEqual([]);
  });

  it.each([
    ['empty', ''],
    ['one character too long', 'a'.repeat(TURNSTILE_TOKEN_MAX_LENGTH + 1)],
    ['a space', 'abc def'],
    ['a newline', 'abc\n'],
    ['a non-ASCII character', 'abcé'],
    ['a control character', 'abc\u0000'],
  ])('a token with %s: invalid, and siteverify is not called', async (_, token) => {
    const calls = siteverify(() => passed());
    expect(await check({ token })).toEqual({ ok: false, reason: 'invalid', errorCodes: [] });
    expect(calls).toEqual([]);
  });

  it('a token of the longest length is asked about', async () => {
    const calls = siteverify(() => passed());
    expect(await check({ token: 'a'.repeat(TURNSTILE_TOKEN_MAX_LENGTH) })).toEqual({ ok: true });
    expect(calls).toHaveLength(1);
  });

  it('siteverify mode without TURNSTILE_SECRET_KEY: a configuration error, and no call', async () => {
    const calls = siteverify(() => passed());
    const error = await check({}, configWith({ TURNSTILE_SECRET_KEY: '' })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TurnstileConfigurationError);
    expect(error).toMatchObject({ kind: 'missing_secret' });
    expect(calls).toEqual([]);
  });
});

describe('checkTurnstile: what siteverify answers', () => {
  it('sends the secret, the token, the client address and a fresh idempotency key as JSON', async () => {
    const calls = siteverify(() => passed());
    await check({ remoteIp: '203.0.113.7' });
    await check();
    expect(calls).toHaveLength(2);
    expect(calls[0]!.headers['content-type']).toBe('application/json');
    expect(calls[0]!.body).toEqual({
      secret: TEST_SECRETS.TURNSTILE_SECRET_KEY,
      response: TOKEN,
      remoteip: '203.0.113.7',
      idempotency_key: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
    });
    // No address known: none is sent. Each check has its own key.
    expect(calls[1]!.body).not.toHaveProperty('remoteip');
    const keys = calls.map((call) => (call.body as { idempotency_key: string }).idempotency_key);
    expect(keys[1]).not.toBe(keys[0]);
  });

  it('success: ok, when the hostname is one of the expected ones (in any letter case)', async () => {
    siteverify(() => passed({ hostname: 'App.Example.com' }));
    expect(await check({ expectedHostnames: ['other.example.com', 'app.example.com'] })).toEqual({ ok: true });
    expect(await check()).toEqual({ ok: true });
  });

  it('failure: invalid, with the error codes siteverify gave', async () => {
    siteverify(() => refused('invalid-input-response'));
    expect(await check()).toEqual({ ok: false, reason: 'invalid', errorCodes: ['invalid-input-response'] });
  });

  it('timeout-or-duplicate: expired_or_used', async () => {
    siteverify(() => refused('timeout-or-duplicate'));
    expect(await check()).toEqual({ ok: false, reason: 'expired_or_used', errorCodes: ['timeout-or-duplicate'] });
  });

  it('a pass for a token solved more than 300 s ago by our clock: expired_or_used', async () => {
    siteverify(() => passed({ challenge_ts: new Date(NOW - 300_001).toISOString() }));
    expect(await check()).toEqual({ ok: false, reason: 'expired_or_used', errorCodes: [] });
    expect(await check({ now: NOW - 1 })).toEqual({ ok: true });
  });

  it('a pass for a token solved on a site the app does not allow: hostname_mismatch', async () => {
    siteverify((_, index) => (index === 1 ? passed({ hostname: undefined }) : passed({ hostname: 'evil.example.net' })));
    const mismatch = { ok: false, reason: 'hostname_mismatch', errorCodes: [] };
    expect(await check({ expectedHostnames: ['app.example.com'] })).toEqual(mismatch);
    // An answer without a hostname proves no site; an app with no allowed origin allows none.
    expect(await check({ expectedHostnames: ['app.example.com'] })).toEqual(mismatch);
    expect(await check({ expectedHostnames: [] })).toEqual(mismatch);
  });

  it('siteverify refusing the secret: a configuration error, not the visitor’s failure', async () => {
    siteverify(() => refused('invalid-input-secret'));
    await expect(check()).rejects.toMatchObject({ name: 'TurnstileConfigurationError', kind: 'secret_refused' });
  });
});

describe('checkTurnstile: siteverify without a usable answer throws TurnstileUnavailableError', () => {
  it.each([
    ['HTTP 502', 2, () => new Response('bad gateway', { status: 502 })],
    ['internal-error', 2, () => refused('internal-error')],
    [
      'a network error',
      2,
      (): Response => {
        throw new TypeError('fetch failed');
      },
    ],
    ['HTTP 429', 1, () => new Response('', { status: 429 })],
    ['an HTML page instead of JSON', 1, () => new Response('<html>challenge</html>', { status: 200, headers: { 'Content-Type': 'text/html' } })],
    ['JSON of another shape', 1, () => json(200, { ok: true })],
    ['a pass with a 4xx status', 1, () => json(400, { success: true, 'error-codes': [] })],
  ])('%s (calls made: %i)', async (_, expectedCalls, respond) => {
    const calls = siteverify(respond as Responder);
    await expect(check()).rejects.toBeInstanceOf(TurnstileUnavailableError);
    expect(calls).toHaveLength(expectedCalls);
  });

  it('one failed call is retried with the same idempotency key, and its answer counts', async () => {
    const calls = siteverify((_, index) => (index === 0 ? new Response('', { status: 503 }) : passed()));
    expect(await check()).toEqual({ ok: true });
    expect(calls).toHaveLength(2);
    expect(calls[1]!.body).toEqual(calls[0]!.body);
  });

  it('an answer that never comes: unavailable once TURNSTILE_TIMEOUT_MS has passed, without a second call', async () => {
    const calls = siteverify(() => new Promise<Response>(() => {}));
    const error = await check({}, configWith({ TURNSTILE_TIMEOUT_MS: '100' })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TurnstileUnavailableError);
    expect((error as TurnstileUnavailableError).problem).toBe('no answer within 100 ms');
    expect(calls).toHaveLength(1);
  });
});

describe('stub mode (local development)', () => {
  const stub = () => configWith({ TURNSTILE_MODE: 'stub', TURNSTILE_SECRET_KEY: '' });

  it('passes XXXX.DUMMY.TOKEN.XXXX and fails XXXX.DUMMY.TOKEN.FAIL and any other token, with no outbound call and no secret', async () => {
    // No origin is intercepted: any outbound call fails the test.
    expect(STUB_PASS_TOKEN).toBe('XXXX.DUMMY.TOKEN.XXXX');
    expect(STUB_FAIL_TOKEN).toBe('XXXX.DUMMY.TOKEN.FAIL');
    expect(await check({ token: STUB_PASS_TOKEN, expectedHostnames: ['app.example.com'] }, stub())).toEqual({ ok: true });
    expect(await check({ token: STUB_FAIL_TOKEN }, stub())).toMatchObject({ ok: false, reason: 'invalid' });
    expect(await check({ token: TOKEN }, stub())).toMatchObject({ ok: false, reason: 'invalid' });
    expect(await check({ token: undefined }, stub())).toMatchObject({ ok: false, reason: 'missing' });
  });
});

describe('configuration', () => {
  const production = { ENVIRONMENT: 'production', PROVIDER_MODE: 'startmessaging', SM_API_KEY: 'k' };

  it('defaults to siteverify at Cloudflare with a 3 s timeout', () => {
    expect(loadConfig({ ENVIRONMENT: 'test' } as unknown as Env).turnstile).toEqual({
      mode: 'siteverify',
      verifyUrl: 'https://challenges.cloudflare.com/turnstile/v0/siteverify',
      timeoutMs: 3000,
    });
  });

  it('the production environment refuses stub mode and Cloudflare’s testing secret keys', () => {
    expect(() => configWith({ ...production, TURNSTILE_MODE: 'stub' })).toThrow(ConfigError);
    expect(() => configWith({ ...production, TURNSTILE_MODE: 'stub' })).toThrow(/TURNSTILE_MODE=stub is refused in the production environment/);
    for (const testingSecret of ['1x0000000000000000000000000000000AA', '2x0000000000000000000000000000000AA', '3x0000000000000000000000000000000AA']) {
      expect(() => configWith({ ...production, TURNSTILE_SECRET_KEY: testingSecret }), testingSecret).toThrow(/TURNSTILE_SECRET_KEY is one of Cloudflare/);
    }
    expect(configWith({ ...production, TURNSTILE_SECRET_KEY: '0x4AAAAAAAexampleRealSecret' }).turnstile.mode).toBe('siteverify');
    expect(configWith({ ENVIRONMENT: 'development', TURNSTILE_MODE: 'stub' }).turnstile.mode).toBe('stub');
  });

  it('refuses an unknown mode and a timeout out of range, naming the var', () => {
    expect(() => configWith({ TURNSTILE_MODE: 'off' })).toThrow(/TURNSTILE_MODE must be one of siteverify, stub/);
    expect(() => configWith({ TURNSTILE_TIMEOUT_MS: '20' })).toThrow(/TURNSTILE_TIMEOUT_MS must be an integer from 100 to 10000/);
  });
});

describe('turnstileError: the API answer for each outcome', () => {
  it.each([
    ['missing', 400, 'turnstile_required', undefined],
    ['invalid', 403, 'turnstile_failed', 'invalid'],
    ['expired_or_used', 403, 'turnstile_failed', 'expired_or_used'],
    ['hostname_mismatch', 403, 'turnstile_failed', 'hostname_mismatch'],
  ] as const)('%s: %i %s', (reason, status, code, detail) => {
    const error = turnstileError({ ok: false, reason, errorCodes: ['some-code'] });
    expect({ status: error.status, code: error.code, reason: error.extra.details?.reason }).toEqual({ status, code, reason: detail });
  });

  it('unavailable: 503 turnstile_unavailable with Retry-After; misconfigured: 500 configuration_error naming the secret', () => {
    const unavailable = turnstileError(new TurnstileUnavailableError('no answer within 100 ms'));
    expect([unavailable.status, unavailable.code, unavailable.extra.headers?.['Retry-After']]).toEqual([503, 'turnstile_unavailable', '5']);
    expect(unavailable.message).not.toContain('100 ms');
    const missing = turnstileError(new TurnstileConfigurationError('missing_secret', 'TURNSTILE_SECRET_KEY is not set'));
    expect([missing.status, missing.code, missing.extra.details?.missingSecret]).toEqual([500, 'configuration_error', 'TURNSTILE_SECRET_KEY']);
    const refusedSecret = turnstileError(new TurnstileConfigurationError('secret_refused', 'invalid-input-secret'));
    expect([refusedSecret.status, refusedSecret.code]).toEqual([500, 'configuration_error']);
  });
});
