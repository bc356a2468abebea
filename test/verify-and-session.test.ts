import { SELF, env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { deriveCode } from '../src/codes';
import { SESSION_COOKIE, signSession } from '../src/api/session-cookie';
import { verifyFailureKey } from '../src/limiter/limiter-client';
import { TEST_OTP_SECRET, TEST_SESSION_SECRET, requestRow, seedRequest, uniquePhone } from './support/fixtures';
import { fetchWithEnv } from './support/worker';

const BASE = 'https://otp.test';

async function codeFor(requestId: string) {
  return deriveCode(TEST_OTP_SECRET, requestId, 6);
}

async function wrongCodeFor(requestId: string) {
  const code = await codeFor(requestId);
  return String((Number(code) + 1) % 1_000_000).padStart(6, '0');
}

function verify(requestId: string, code: string, headers: Record<string, string> = {}) {
  return SELF.fetch(`${BASE}/v1/otp/${requestId}/verify`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify({ code }),
  });
}

function sessionCookieFrom(response: Response): string {
  const header = response.headers.get('Set-Cookie') ?? '';
  const match = new RegExp(`${SESSION_COOKIE}=([^;]+)`).exec(header);
  if (!match) throw new Error(`no session cookie in ${header}`);
  return match[1]!;
}

const getSession = (cookie?: string, headers: Record<string, string> = {}) =>
  SELF.fetch(`${BASE}/v1/session`, { headers: { ...(cookie ? { Cookie: `${SESSION_COOKIE}=${cookie}` } : {}), ...headers } });

async function errorOf(response: Response) {
  return (await response.json<{ error: { code: string; attemptsRemaining?: number } }>()).error;
}

describe('POST /v1/otp/:requestId/verify', () => {
  it('accepts the right code once, sets a signed session cookie, and marks the request verified', async () => {
    const { id, phoneNumber } = await seedRequest();
    const response = await verify(id, await codeFor(id));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ verified: true });
    const setCookie = response.headers.get('Set-Cookie')!;
    expect(setCookie).toContain(`${SESSION_COOKIE}=`);
    for (const attribute of ['HttpOnly', 'Secure', 'SameSite=Lax', 'Path=/', 'Max-Age=86400']) expect(setCookie).toContain(attribute);

    expect(await requestRow(id)).toMatchObject({ status: 'verified', verify_attempts: 1, verified_at: expect.any(Number) });
    const session = await getSession(sessionCookieFrom(response));
    expect(session.status).toBe(200);
    expect(await session.json()).toMatchObject({ phoneNumber, requestId: id });

    const again = await verify(id, await codeFor(id));
    expect(again.status).toBe(409);
    expect((await errorOf(again)).code).toBe('already_verified');
  });

  it('a wrong code is 400 invalid_code with the attempts left; the fifth locks the request, even for the right code', async () => {
    const { id } = await seedRequest();
    const wrong = await wrongCodeFor(id);
    for (let attempt = 1; attempt <= 5; attempt++) {
      const response = await verify(id, wrong);
      expect(response.status).toBe(400);
      expect(await errorOf(response)).toMatchObject({ code: 'invalid_code', attemptsRemaining: 5 - attempt });
    }
    const locked = await verify(id, await codeFor(id));
    expect(locked.status).toBe(429);
    expect((await errorOf(locked)).code).toBe('too_many_attempts');
    expect((await requestRow(id)).status).not.toBe('verified');
  });

  it('concurrent wrong guesses never exceed the limit', async () => {
    const { id } = await seedRequest();
    const wrong = await wrongCodeFor(id);
    const responses = await Promise.all(Array.from({ length: 20 }, () => verify(id, wrong)));
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 400)).toHaveLength(5);
    expect(statuses.filter((status) => status === 429)).toHaveLength(15);
    expect((await requestRow(id)).verify_attempts).toBe(5);
  });

  it('an expired code is 410 expired', async () => {
    const { id } = await seedRequest();
    await env.DB.prepare('UPDATE otp_requests SET expires_at = ? WHERE id = ?').bind(Date.now() - 1, id).run();
    const response = await verify(id, await codeFor(id));
    expect(response.status).toBe(410);
    expect((await errorOf(response)).code).toBe('expired');
  });

  it('the expired code of a request whose send failed is 410 expired too, and costs no attempt', async () => {
    // A send can fail after the SMS went out (its answer lost on every try), so a failed request's
    // code is checkable while it lives; once it has expired the answer must say so.
    const { id } = await seedRequest();
    await env.DB.prepare("UPDATE otp_requests SET status = 'failed', expires_at = ? WHERE id = ?").bind(Date.now() - 1, id).run();
    const response = await verify(id, await codeFor(id));
    expect(response.status).toBe(410);
    expect((await errorOf(response)).code).toBe('expired');
    expect((await requestRow(id)).verify_attempts).toBe(0);
  });

  it('a resend supersedes the earlier request: its code stops working with 410 superseded', async () => {
    const phoneNumber = uniquePhone();
    const first = await seedRequest({ phoneNumber });
    const second = await seedRequest({ phoneNumber });
    const response = await verify(first.id, await codeFor(first.id));
    expect(response.status).toBe(410);
    expect((await errorOf(response)).code).toBe('superseded');
    expect((await verify(second.id, await codeFor(second.id))).status).toBe(200);
  });

  it('failed guesses are capped per phone across resends (10 per hour by default)', async () => {
    const phoneNumber = uniquePhone();
    let locked: Response | undefined;
    for (let round = 0; round < 3 && !locked; round++) {
      const { id } = await seedRequest({ phoneNumber });
      const wrong = await wrongCodeFor(id);
      for (let attempt = 0; attempt < 5; attempt++) {
        const response = await verify(id, wrong);
        if (response.status === 429) {
          locked = response;
          break;
        }
      }
    }
    expect(locked).toBeDefined();
    expect((await errorOf(locked!)).code).toBe('too_many_attempts');
    expect(Number(locked!.headers.get('Retry-After'))).toBeGreaterThan(0);
    // The lockout holds for a fresh request and the right code too.
    const fresh = await seedRequest({ phoneNumber });
    expect((await verify(fresh.id, await codeFor(fresh.id))).status).toBe(429);
  });

  it('a right code does not use up the phone’s failure budget', async () => {
    const phoneNumber = uniquePhone();
    for (let round = 0; round < 12; round++) {
      const { id } = await seedRequest({ phoneNumber });
      expect((await verify(id, await codeFor(id))).status).toBe(200);
    }
  });

  it('the phone’s failure budget stores nothing for a right code, and a row (with its clean-up alarm) for a wrong one', async () => {
    const phoneNumber = uniquePhone();
    const budget = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(verifyFailureKey(phoneNumber)));
    const stored = () =>
      runInDurableObject(budget, async (_instance, state) => ({
        failures: state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM events').one().n,
        alarm: await state.storage.getAlarm(),
      }));
    // Settling the budget is background work: this waits for it, as SELF does not.
    const verifyAndSettle = (id: string, code: string) =>
      fetchWithEnv(
        new Request(`${BASE}/v1/otp/${id}/verify`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code }) }),
        env,
      );
    const first = await seedRequest({ phoneNumber });
    expect((await verifyAndSettle(first.id, await codeFor(first.id))).status).toBe(200);
    expect(await stored()).toEqual({ failures: 0, alarm: null });

    const second = await seedRequest({ phoneNumber });
    expect((await verifyAndSettle(second.id, await wrongCodeFor(second.id))).status).toBe(400);
    expect((await verifyAndSettle(second.id, await codeFor(second.id))).status).toBe(200);
    const after = await stored();
    expect(after.failures).toBe(1);
    expect(after.alarm).toBeGreaterThan(Date.now());
    expect(await requestRow(second.id)).toMatchObject({ status: 'verified', verify_attempts: 2 });
  });

  it('compares codes in constant time', async () => {
    const spy = vi.spyOn(crypto.subtle, 'timingSafeEqual');
    const { id } = await seedRequest();
    await verify(id, await wrongCodeFor(id));
    expect(spy).toHaveBeenCalled();
    spy.mockRestore();
  });

  it.each([
    ['letters', { code: 'abcdef' }],
    ['too short', { code: '123' }],
    ['a number, not a string', { code: 123456 }],
    ['extra fields', { code: '123456', phoneNumber: '+1' }],
  ])('refuses a malformed body (%s) without counting an attempt', async (_name, body) => {
    const { id } = await seedRequest();
    const response = await SELF.fetch(`${BASE}/v1/otp/${id}/verify`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe('invalid_request');
    expect((await requestRow(id)).verify_attempts).toBe(0);
  });

  it('unknown request ids are 404', async () => {
    const response = await verify('otp_AAAAAAAAAAAAAAAAAAAAAA', '123456');
    expect(response.status).toBe(404);
  });

  it('records every outcome with time and phone prefix for the conversion signal', async () => {
    const { id } = await seedRequest({ phoneNumber: '+447700900123' });
    await verify(id, await wrongCodeFor(id));
    await verify(id, await codeFor(id));
    await verify(id, await codeFor(id));
    const { results } = await env.DB.prepare('SELECT outcome, phone_prefix FROM verification_events WHERE request_id = ? ORDER BY id')
      .bind(id)
      .all();
    expect(results).toEqual([
      { outcome: 'invalid_code', phone_prefix: '+44770' },
      { outcome: 'verified', phone_prefix: '+44770' },
      { outcome: 'already_verified', phone_prefix: '+44770' },
    ]);
  });
});

describe('sessions', () => {
  const payload = (overrides: Partial<{ exp: number; phoneNumber: string }> = {}) => ({
    v: 1 as const,
    phoneNumber: '+919876543210',
    requestId: 'otp_AAAAAAAAAAAAAAAAAAAAAA',
    iat: Math.floor(Date.now() / 1000),
    exp: Math.floor(Date.now() / 1000) + 600,
    ...overrides,
  });

  it('GET /v1/session is 401 without a cookie', async () => {
    const response = await getSession();
    expect(response.status).toBe(401);
    expect((await errorOf(response)).code).toBe('unauthorized');
  });

  it('a tampered cookie is 401', async () => {
    const cookie = await signSession(payload(), TEST_SESSION_SECRET);
    const [body, signature] = cookie.split('.');
    const forged = btoa(JSON.stringify(payload({ phoneNumber: '+15550001111' }))).replace(/=+$/, '');
    for (const bad of [`${forged}.${signature}`, `${body}.${signature!.slice(0, -2)}xx`, `${body}`, `${body}.${signature}.x`, 'garbage']) {
      expect((await getSession(bad)).status).toBe(401);
    }
    expect((await getSession(cookie)).status).toBe(200);
  });

  it('an expired cookie is 401', async () => {
    const cookie = await signSession(payload({ exp: Math.floor(Date.now() / 1000) - 1 }), TEST_SESSION_SECRET);
    expect((await getSession(cookie)).status).toBe(401);
  });

  it('a cookie signed with another secret is 401', async () => {
    expect((await getSession(await signSession(payload(), 'some-other-secret'))).status).toBe(401);
  });

  it('after rotation, cookies signed with the previous secret are still read; new ones use the current secret', async () => {
    const worker = (await import('../src/index')).default;
    const rotated = { ...env, SESSION_SECRET: 'new-secret', SESSION_SECRET_PREVIOUS: TEST_SESSION_SECRET } as Env;
    const oldCookie = await signSession(payload(), TEST_SESSION_SECRET);
    const read = await fetchWithEnv(new Request(`${BASE}/v1/session`, { headers: { Cookie: `${SESSION_COOKIE}=${oldCookie}` } }), rotated);
    expect(read.status).toBe(200);

    const { id } = await seedRequest();
    const verified = await fetchWithEnv(
      new Request(`${BASE}/v1/otp/${id}/verify`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ code: await codeFor(id) }),
      }),
      rotated);
    expect(verified.status).toBe(200);
    const fresh = sessionCookieFrom(verified);
    // Signed with the new secret: valid under rotation, not under the old secret alone.
    expect((await getSession(fresh)).status).toBe(401);
    const readFresh = await fetchWithEnv(new Request(`${BASE}/v1/session`, { headers: { Cookie: `${SESSION_COOKIE}=${fresh}` } }), rotated);
    expect(readFresh.status).toBe(200);
  });

  it('logout clears the cookie', async () => {
    const response = await SELF.fetch(`${BASE}/v1/session/logout`, { method: 'POST' });
    expect(response.status).toBe(200);
    const setCookie = response.headers.get('Set-Cookie')!;
    expect(setCookie).toMatch(new RegExp(`${SESSION_COOKIE}=;`));
    expect(setCookie).toContain('Max-Age=0');
  });
});

describe('cross-site protection', () => {
  it('refuses verify and session calls from a foreign Origin', async () => {
    const { id } = await seedRequest();
    const foreign = { Origin: 'https://evil.example' };
    const response = await verify(id, await codeFor(id), foreign);
    expect(response.status).toBe(403);
    expect((await errorOf(response)).code).toBe('forbidden_origin');
    expect((await requestRow(id)).verify_attempts).toBe(0);
    expect((await getSession(undefined, foreign)).status).toBe(403);
    expect((await SELF.fetch(`${BASE}/v1/session/logout`, { method: 'POST', headers: foreign })).status).toBe(403);
    expect((await getSession(undefined, { 'Sec-Fetch-Site': 'cross-site' })).status).toBe(403);
  });

  it('accepts its own origin', async () => {
    const { id } = await seedRequest();
    expect((await verify(id, await codeFor(id), { Origin: BASE, 'Sec-Fetch-Site': 'same-origin' })).status).toBe(200);
  });

  it('CORS answers only configured app origins, with credentials, never *', async () => {
    const worker = (await import('../src/index')).default;
    const configured = { ...env, CORS_ALLOWED_ORIGINS: 'https://app.example' } as Env;
    const preflight = (origin: string) =>
      fetchWithEnv(
        new Request(`${BASE}/v1/otp`, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'POST' } }),
        configured);
    const ok = await preflight('https://app.example');
    expect(ok.headers.get('Access-Control-Allow-Origin')).toBe('https://app.example');
    expect(ok.headers.get('Access-Control-Allow-Credentials')).toBe('true');
    const other = await preflight('https://evil.example');
    expect(other.headers.get('Access-Control-Allow-Origin')).toBeNull();

    const { id } = await seedRequest();
    const fromApp = await fetchWithEnv(
      new Request(`${BASE}/v1/otp/${id}/verify`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Origin: 'https://app.example' },
        body: JSON.stringify({ code: await codeFor(id) }),
      }),
      configured);
    expect(fromApp.status).toBe(200);
  });

  it('config refuses * as a CORS origin', async () => {
    const worker = (await import('../src/index')).default;
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const response = await fetchWithEnv(new Request(`${BASE}/healthz`), { ...env, CORS_ALLOWED_ORIGINS: '*' } as Env);
    errors.mockRestore();
    expect(response.status).toBe(500);
  });
});
