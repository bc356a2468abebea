import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { deriveCode } from '../src/codes';
import { adminJson } from './support/admin';
import { makeApp, withKey } from './support/apps';
import { TEST_OTP_SECRET, uniquePhone } from './support/fixtures';
import { interceptOrigin, json } from './support/outbound';
import { fetchWithEnv } from './support/worker';

const ORIGIN = 'https://shop.example';
const SITEVERIFY = 'https://turnstile.test';
const SITEVERIFY_ROUTE = 'POST /turnstile/v0/siteverify';
const passing = () => json(200, { success: true, 'error-codes': [], hostname: 'shop.example', challenge_ts: new Date().toISOString() });
// Same-number sends in one test: the phone's own windows and cooldown out of the way.
const VARS = { PHONE_LIMITS: '100/60', PHONE_COOLDOWN_SECONDS: '0', STEP_UP_TRICKLE: '2/60' };

let ip = 0;
const send = (key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  fetchWithEnv(
    new Request('https://otp.test/v1/otp', {
      method: 'POST',
      headers: withKey({ 'Content-Type': 'application/json', 'CF-Connecting-IP': `198.51.100.${++ip % 250}`, ...headers }, key),
      body: JSON.stringify(body),
    }),
    { ...env, ...VARS } as Env,
  );

async function sendAndVerify(key: string, phoneNumber: string) {
  const sent = await send(key, { phoneNumber });
  expect(sent.status).toBe(202);
  const { requestId } = await sent.json<{ requestId: string }>();
  const code = await deriveCode(TEST_OTP_SECRET, requestId, 6);
  const verified = await fetchWithEnv(
    new Request(`https://otp.test/v1/otp/${requestId}/verify`, {
      method: 'POST',
      headers: withKey({ 'Content-Type': 'application/json' }, key),
      body: JSON.stringify({ code }),
    }),
    env,
  );
  expect(verified.status).toBe(200);
}

const setMode = (scope: string, mode: 'normal' | 'stepped_up' | 'auto', note?: string) =>
  adminJson<{ scope: string; mode: string; override: { mode: string; note: string | null } | null }>(
    `/v1/admin/conversion-scopes/${encodeURIComponent(scope)}/override`,
    { method: 'PUT', body: JSON.stringify({ mode, note }) },
  );

const errorOf = async (response: Response) => (await response.json<{ error: { code: string; scope?: string } }>()).error;

describe('a stepped-up scope at admission', () => {
  it('lets returning numbers through and trickles fresh ones, naming the reason and the scope', async () => {
    const app = await makeApp({ allowedOrigins: [ORIGIN] });
    const scope = `app:${app.id}`;
    const returning = uniquePhone();
    await sendAndVerify(app.secretKey, returning);

    const forced = await setMode(scope, 'stepped_up', 'drill');
    expect(forced.status).toBe(200);
    expect(forced.body).toMatchObject({ scope, mode: 'stepped_up', override: { mode: 'stepped_up', note: 'drill' } });

    for (let i = 0; i < 3; i++) expect((await send(app.secretKey, { phoneNumber: returning })).status).toBe(202);
    expect((await send(app.secretKey, { phoneNumber: uniquePhone() })).status).toBe(202);
    expect((await send(app.secretKey, { phoneNumber: uniquePhone() })).status).toBe(202);
    const refused = await send(app.secretKey, { phoneNumber: uniquePhone() });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('Retry-After')).not.toBeNull();
    expect(refused.headers.get('RateLimit-Policy')).toBe('"otp";q=2;w=60');
    expect(await errorOf(refused)).toMatchObject({ code: 'conversion_step_up', scope });
    // A returning number is still let through once the trickle is spent.
    expect((await send(app.secretKey, { phoneNumber: returning })).status).toBe(202);

    expect((await setMode(scope, 'auto')).body).toMatchObject({ mode: 'normal', override: null });
    expect((await send(app.secretKey, { phoneNumber: uniquePhone() })).status).toBe(202);
  });

  it('demands Turnstile of browser sends to fresh numbers, whatever the app requires, but not of returning ones', async () => {
    const app = await makeApp({ allowedOrigins: [ORIGIN], turnstileRequired: false });
    const scope = `app:${app.id}`;
    const returning = uniquePhone();
    await sendAndVerify(app.secretKey, returning);
    const calls = interceptOrigin(SITEVERIFY, { [SITEVERIFY_ROUTE]: passing });
    // Not stepped up: the app does not require a token, so none is asked for.
    expect((await send(app.publishableKey, { phoneNumber: uniquePhone() }, { Origin: ORIGIN })).status).toBe(202);

    await setMode(scope, 'stepped_up');
    const noToken = await send(app.publishableKey, { phoneNumber: uniquePhone() }, { Origin: ORIGIN });
    expect(noToken.status).toBe(400);
    expect(await errorOf(noToken)).toMatchObject({ code: 'turnstile_required', scope });
    expect(calls).toHaveLength(0);
    expect((await send(app.publishableKey, { phoneNumber: returning }, { Origin: ORIGIN })).status).toBe(202);
    // Several fresh numbers with a solved challenge: no trickle applies to them.
    for (let i = 0; i < 3; i++) {
      expect((await send(app.publishableKey, { phoneNumber: uniquePhone(), turnstileToken: `solved.${i}` }, { Origin: ORIGIN })).status).toBe(202);
    }
    expect(calls).toHaveLength(3);
    await setMode(scope, 'auto');
  });

  it('an operator forcing a scope normal keeps it open; the listing shows each scope and its override', async () => {
    const app = await makeApp({ allowedOrigins: [ORIGIN] });
    const scope = `app:${app.id}`;
    expect((await setMode(scope, 'normal', 'launch day')).body).toMatchObject({ mode: 'normal', override: { mode: 'normal', note: 'launch day' } });
    for (let i = 0; i < 3; i++) expect((await send(app.secretKey, { phoneNumber: uniquePhone() })).status).toBe(202);
    const listed = await adminJson<{ scopes: Array<{ scope: string; mode: string; sends: number; override: { note: string } | null }> }>(
      '/v1/admin/conversion-scopes',
    );
    expect(listed.status).toBe(200);
    expect(listed.body.scopes.find((entry) => entry.scope === scope)).toMatchObject({ mode: 'normal', override: { note: 'launch day' } });
    await setMode(scope, 'auto');
  });

  it('refuses a scope name it does not know with 400 invalid_request', async () => {
    const bad = await adminJson<{ error: { code: string } }>(`/v1/admin/conversion-scopes/${encodeURIComponent('country:91')}/override`, {
      method: 'PUT',
      body: JSON.stringify({ mode: 'normal' }),
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
  });
});
