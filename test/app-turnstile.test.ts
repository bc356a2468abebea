import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { makeApp, withKey } from './support/apps';
import { uniquePhone } from './support/fixtures';
import { interceptOrigin, json } from './support/outbound';
import { fetchWithEnv } from './support/worker';

const SITEVERIFY = 'https://turnstile.test';
const SITEVERIFY_ROUTE = 'POST /turnstile/v0/siteverify';
const ORIGIN = 'https://shop.example';

const send = (key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  fetchWithEnv(
    new Request('https://otp.test/v1/otp', {
      method: 'POST',
      headers: withKey({ 'Content-Type': 'application/json', 'CF-Connecting-IP': '198.51.100.7', ...headers }, key),
      body: JSON.stringify(body),
    }),
    env,
  );

const errorOf = async (response: Response) => (await response.json<{ error: { code: string } }>()).error.code;
const passing = () => json(200, { success: true, 'error-codes': [], hostname: 'shop.example', challenge_ts: new Date().toISOString() });

describe('Turnstile on browser sends of an app that requires it', () => {
  it('no token: 400 turnstile_required, no siteverify call, nothing recorded', async () => {
    const app = await makeApp({ allowedOrigins: [ORIGIN], turnstileRequired: true });
    const calls = interceptOrigin(SITEVERIFY, { [SITEVERIFY_ROUTE]: passing });
    const phoneNumber = uniquePhone();
    const response = await send(app.publishableKey, { phoneNumber }, { Origin: ORIGIN });
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toBe('turnstile_required');
    expect(calls).toHaveLength(0);
    expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM otp_requests WHERE phone_number = ?1').bind(phoneNumber).first('n')).toBe(0);
  });

  it('a refused token: 403 turnstile_failed; a passing one: 202, checked with the client address', async () => {
    const app = await makeApp({ allowedOrigins: [ORIGIN], turnstileRequired: true });
    const calls = interceptOrigin(SITEVERIFY, {
      [SITEVERIFY_ROUTE]: (_call, index) => (index === 0 ? json(200, { success: false, 'error-codes': ['invalid-input-response'] }) : passing()),
    });
    const refused = await send(app.publishableKey, { phoneNumber: uniquePhone(), turnstileToken: 'forged.token' }, { Origin: ORIGIN });
    expect(refused.status).toBe(403);
    expect(await errorOf(refused)).toBe('turnstile_failed');
    const accepted = await send(app.publishableKey, { phoneNumber: uniquePhone(), turnstileToken: 'solved.token' }, { Origin: ORIGIN });
    expect(accepted.status).toBe(202);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.body).toMatchObject({ response: 'solved.token', remoteip: '198.51.100.7' });
  });

  it('a token solved on another site: 403 turnstile_failed', async () => {
    const app = await makeApp({ allowedOrigins: [ORIGIN], turnstileRequired: true });
    interceptOrigin(SITEVERIFY, {
      [SITEVERIFY_ROUTE]: () => json(200, { success: true, hostname: 'elsewhere.example', challenge_ts: new Date().toISOString() }),
    });
    const response = await send(app.publishableKey, { phoneNumber: uniquePhone(), turnstileToken: 'solved.token' }, { Origin: ORIGIN });
    expect(response.status).toBe(403);
  });

  it('the app’s backend (secret key) is not asked for a token', async () => {
    const app = await makeApp({ allowedOrigins: [ORIGIN], turnstileRequired: true });
    const calls = interceptOrigin(SITEVERIFY, { [SITEVERIFY_ROUTE]: passing });
    expect((await send(app.secretKey, { phoneNumber: uniquePhone() })).status).toBe(202);
    expect(calls).toHaveLength(0);
  });

  it('siteverify down: 503 turnstile_unavailable and the Idempotency-Key is given up; a replay of a created request needs no new token', async () => {
    const app = await makeApp({ allowedOrigins: [ORIGIN], turnstileRequired: true });
    let up = false;
    const calls = interceptOrigin(SITEVERIFY, { [SITEVERIFY_ROUTE]: () => (up ? passing() : json(503, {})) });
    const phoneNumber = uniquePhone();
    const headers = { Origin: ORIGIN, 'Idempotency-Key': `k-${crypto.randomUUID()}` };
    const down = await send(app.publishableKey, { phoneNumber, turnstileToken: 'solved.token' }, headers);
    expect(down.status).toBe(503);
    expect(await errorOf(down)).toBe('turnstile_unavailable');
    expect(down.headers.get('Retry-After')).not.toBeNull();

    up = true;
    const retried = await send(app.publishableKey, { phoneNumber, turnstileToken: 'solved.token' }, headers);
    expect(retried.status).toBe(202);
    const callsSoFar = calls.length;
    // A client that lost the 202 retries with the same key and its (now spent) token: the original answer, no check.
    const replay = await send(app.publishableKey, { phoneNumber, turnstileToken: 'solved.token' }, headers);
    expect(replay.status).toBe(202);
    expect(replay.headers.get('Idempotent-Replayed')).toBe('true');
    expect(calls).toHaveLength(callsSoFar);
  });
});
