import { env, runInDurableObject, SELF } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { SESSION_COOKIE, type Session, signPayload, signSession } from '../src/api/session-cookie';
import { deriveCode } from '../src/codes';
import { newSessionId } from '../src/ids';
import { verifyFailureKey } from '../src/limiter/limiter-client';
import { adminFetch, adminJson } from './support/admin';
import { TEST_APP, withKey } from './support/apps';
import { recordingQueue } from './support/faults';
import { requestRow, seedRequest, TEST_OTP_SECRET, TEST_SESSION_SECRET, uniquePhone } from './support/fixtures';
import { fetchWithEnv } from './support/worker';

const BASE = 'https://otp.test';

async function codeFor(requestId: string) {
  return deriveCode(TEST_OTP_SECRET, requestId, 6);
}

async function wrongCodeFor(requestId: string) {
  const code = await codeFor(requestId);
  return String((Number(code) + 1) % 1_000_000).padStart(6, '0');
}

/**
 * Verification settles the phone's failure budget and records its outcome in `waitUntil`; this
 * waits for that work (SELF does not), so what a test reads next is already written. It calls as
 * the test app, with its secret key unless `headers` carries another Authorization.
 */
function verify(requestId: string, code: string, headers: Record<string, string> = {}, testEnv: Env = env) {
  return fetchWithEnv(
    new Request(`${BASE}/v1/otp/${requestId}/verify`, {
      method: 'POST',
      headers: withKey({ 'Content-Type': 'application/json', ...headers }),
      body: JSON.stringify({ code }),
    }),
    testEnv,
  );
}

function sessionCookieFrom(response: Response): string {
  const header = response.headers.get('Set-Cookie') ?? '';
  const match = new RegExp(`${SESSION_COOKIE}=([^;]+)`).exec(header);
  if (!match) throw new Error(`no session cookie in ${header}`);
  return match[1]!;
}

const cookieHeader = (cookie?: string): Record<string, string> => (cookie ? { Cookie: `${SESSION_COOKIE}=${cookie}` } : {});

const getSession = (cookie?: string, headers: Record<string, string> = {}) =>
  SELF.fetch(`${BASE}/v1/session`, { headers: { ...cookieHeader(cookie), ...headers } });

const logout = (cookie?: string, headers: Record<string, string> = {}) =>
  SELF.fetch(`${BASE}/v1/session/logout`, { method: 'POST', headers: { ...cookieHeader(cookie), ...headers } });

/** A fresh request for `phoneNumber`, verified: the session cookie it set. */
async function sessionFor(phoneNumber = uniquePhone()) {
  const { id } = await seedRequest({ phoneNumber });
  const response = await verify(id, await codeFor(id));
  expect(response.status).toBe(200);
  return sessionCookieFrom(response);
}

async function errorOf(response: Response) {
  return (await response.json<{ error: { code: string; attemptsRemaining?: number } }>()).error;
}

describe('POST /v1/otp/:requestId/verify', () => {
  it('accepts the right code once, sets a signed session cookie, and marks the request verified', async () => {
    const { id, phoneNumber } = await seedRequest();
    const response = await verify(id, await codeFor(id));
    expect(response.status).toBe(200);
    // The secret key's answer also names the verified request and number (for the app's backend).
    expect(await response.json()).toEqual({
      verified: true,
      token: expect.any(String),
      tokenExpiresAt: expect.any(String),
      requestId: id,
      phoneNumber,
      verifiedAt: expect.any(String),
    });
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
    await env.DB.prepare('UPDATE otp_requests SET expires_at = ? WHERE id = ?')
      .bind(Date.now() - 1, id)
      .run();
    const response = await verify(id, await codeFor(id));
    expect(response.status).toBe(410);
    expect((await errorOf(response)).code).toBe('expired');
  });

  it('the expired code of a request whose send failed is 410 expired too, and costs no attempt', async () => {
    // A send can fail after the SMS went out (its answer lost on every try), so a failed request's
    // code is checkable while it lives; once it has expired the answer must say so.
    const { id } = await seedRequest();
    await env.DB.prepare("UPDATE otp_requests SET status = 'failed', expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, id)
      .run();
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
    // Settling the budget is background work: verify() waits for it.
    const verifyAndSettle = verify;
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
    ['a number, not a string', { code: 123456 }],
    ['no code', {}],
    ['extra fields', { code: '123456', phoneNumber: '+1' }],
  ])('refuses a malformed body (%s) without counting an attempt', async (_name, body) => {
    const { id } = await seedRequest();
    const response = await SELF.fetch(`${BASE}/v1/otp/${id}/verify`, {
      method: 'POST',
      headers: withKey({ 'Content-Type': 'application/json' }),
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe('invalid_request');
    expect((await requestRow(id)).verify_attempts).toBe(0);
  });

  it.each([
    ['one digit short', '12345'],
    ['one digit long', '1234567'],
    ['empty', ''],
    ['letters', 'abcdef'],
    ['spaces', ' 12345'],
    ['Arabic-Indic digits', '١٢٣٤٥٦'],
    ['fullwidth digits', '１２３４５６'],
    ['Devanagari digits', '१२३४५६'],
  ])('a code that is not exactly OTP_LENGTH ASCII digits (%s) is 400 invalid_code_format and costs nothing', async (_name, code) => {
    const phoneNumber = uniquePhone();
    const { id } = await seedRequest({ phoneNumber });
    const budget = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(verifyFailureKey(phoneNumber)));
    // More malformed codes than the request's attempts (5) and the phone's hourly budget (10).
    for (let guess = 0; guess < 12; guess++) {
      const response = await verify(id, code);
      expect(response.status).toBe(400);
      const error = await errorOf(response);
      expect(error.code).toBe('invalid_code_format');
      expect(error).not.toHaveProperty('attemptsRemaining');
    }
    expect((await requestRow(id)).verify_attempts).toBe(0);
    const failures = await runInDurableObject(budget, (_instance, state) => state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM events').one().n);
    expect(failures).toBe(0);
    const outcomes = await env.DB.prepare('SELECT COUNT(*) AS n FROM verification_events WHERE request_id = ?').bind(id).first<{ n: number }>();
    expect(outcomes!.n).toBe(0);
    // Nothing was used up: the right code still verifies.
    expect((await verify(id, await codeFor(id))).status).toBe(200);
  });

  it('OTP_LENGTH sets the format: with 4-digit codes a 6-digit one is malformed', async () => {
    const shortCodes = { ...env, OTP_LENGTH: '4', SEND_QUEUE: recordingQueue().queue } as Env;
    // A request's code length is fixed when it is made (the test app sets none: OTP_LENGTH).
    const created = await fetchWithEnv(
      new Request(`${BASE}/v1/otp`, {
        method: 'POST',
        headers: withKey({ 'Content-Type': 'application/json' }),
        body: JSON.stringify({ phoneNumber: uniquePhone() }),
      }),
      shortCodes,
    );
    expect(created.status).toBe(202);
    const { requestId: id } = await created.json<{ requestId: string }>();
    expect((await requestRow(id)).code_length).toBe(4);
    const response = await verify(id, '123456', {}, shortCodes);
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe('invalid_code_format');
    const right = await deriveCode(TEST_OTP_SECRET, id, 4);
    expect((await verify(id, right, {}, shortCodes)).status).toBe(200);
  });

  it('unknown request ids are 404', async () => {
    const response = await verify('otp_AAAAAAAAAAAAAAAAAAAAAA', '123456');
    expect(response.status).toBe(404);
  });

  it('records every failed outcome with time and phone prefix (written in the background, awaited by verify()); a success only on the request', async () => {
    const { id } = await seedRequest({ phoneNumber: '+447700900123' });
    await verify(id, await wrongCodeFor(id));
    await verify(id, await codeFor(id));
    await verify(id, await codeFor(id));
    const { results } = await env.DB.prepare('SELECT outcome, phone_prefix FROM verification_events WHERE request_id = ? ORDER BY id').bind(id).all();
    expect(results).toEqual([
      { outcome: 'invalid_code', phone_prefix: '+44770' },
      { outcome: 'already_verified', phone_prefix: '+44770' },
    ]);
    const row = await requestRow(id);
    expect(row.status).toBe('verified');
    expect(row.verified_at).toEqual(expect.any(Number));
  });
});

describe('sessions', () => {
  const session = (overrides: Partial<Session> = {}): Session => ({
    sessionId: newSessionId(),
    phoneNumber: uniquePhone(),
    requestId: 'otp_AAAAAAAAAAAAAAAAAAAAAA',
    issuedAt: Date.now(),
    expiresAt: Date.now() + 600_000,
    ...overrides,
  });

  it('GET /v1/session is 401 without a cookie', async () => {
    const response = await getSession();
    expect(response.status).toBe(401);
    expect((await errorOf(response)).code).toBe('unauthorized');
  });

  it('a tampered cookie is 401', async () => {
    const cookie = await signSession(session(), TEST_SESSION_SECRET);
    const [body, signature] = cookie.split('.');
    const forged = btoa(JSON.stringify({ v: 2, ...session({ phoneNumber: '+15550001111' }) })).replace(/=+$/, '');
    for (const bad of [`${forged}.${signature}`, `${body}.${signature!.slice(0, -2)}xx`, `${body}`, `${body}.${signature}.x`, 'garbage']) {
      expect((await getSession(bad)).status).toBe(401);
    }
    expect((await getSession(cookie)).status).toBe(200);
  });

  it('an expired cookie is 401', async () => {
    const cookie = await signSession(session({ expiresAt: Date.now() - 1 }), TEST_SESSION_SECRET);
    expect((await getSession(cookie)).status).toBe(401);
  });

  it('a cookie signed with another secret is 401', async () => {
    expect((await getSession(await signSession(session(), 'some-other-secret'))).status).toBe(401);
  });

  it('after rotation, cookies signed with the previous secret are still read; new ones use the current secret', async () => {
    const rotated = { ...env, SESSION_SECRET: 'new-secret', SESSION_SECRET_PREVIOUS: TEST_SESSION_SECRET } as Env;
    const oldCookie = await signSession(session(), TEST_SESSION_SECRET);
    const read = await fetchWithEnv(new Request(`${BASE}/v1/session`, { headers: cookieHeader(oldCookie) }), rotated);
    expect(read.status).toBe(200);

    const { id } = await seedRequest();
    const verified = await verify(id, await codeFor(id), {}, rotated);
    expect(verified.status).toBe(200);
    const fresh = sessionCookieFrom(verified);
    // Signed with the new secret: valid under rotation, not under the old secret alone.
    expect((await getSession(fresh)).status).toBe(401);
    const readFresh = await fetchWithEnv(new Request(`${BASE}/v1/session`, { headers: cookieHeader(fresh) }), rotated);
    expect(readFresh.status).toBe(200);
  });

  it('logout clears the cookie, with or without one', async () => {
    for (const cookie of [undefined, 'garbage', await sessionFor()]) {
      const response = await logout(cookie);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ loggedOut: true });
      const setCookie = response.headers.get('Set-Cookie')!;
      expect(setCookie).toMatch(new RegExp(`${SESSION_COOKIE}=;`));
      expect(setCookie).toContain('Max-Age=0');
    }
  });

  it('logout revokes the session server-side: a kept copy of the cookie is 401 on the next request', async () => {
    const phoneNumber = uniquePhone();
    const cookie = await sessionFor(phoneNumber);
    const otherSessionOfThePhone = await sessionFor(phoneNumber);
    expect((await getSession(cookie)).status).toBe(200);

    expect((await logout(cookie)).status).toBe(200);
    const after = await getSession(cookie);
    expect(after.status).toBe(401);
    expect((await errorOf(after)).code).toBe('unauthorized');
    // Only that session ended: the phone's other session (another device) goes on.
    expect((await getSession(otherSessionOfThePhone)).status).toBe(200);
    // Logging out twice is harmless.
    expect((await logout(cookie)).status).toBe(200);
  });

  it('cookies signed before sessions had ids are still read, and logout revokes them too', async () => {
    const now = Math.floor(Date.now() / 1000);
    const payload = { v: 1, phoneNumber: uniquePhone(), requestId: 'otp_BBBBBBBBBBBBBBBBBBBBBB', iat: now, exp: now + 600 };
    const cookie = await signPayload(payload, TEST_SESSION_SECRET);
    const read = await getSession(cookie);
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual({
      phoneNumber: payload.phoneNumber,
      requestId: payload.requestId,
      expiresAt: new Date(payload.exp * 1000).toISOString(),
    });
    expect((await logout(cookie)).status).toBe(200);
    expect((await getSession(cookie)).status).toBe(401);
  });

  it('an operator revokes every session of a phone; other phones and later sessions are untouched', async () => {
    const phoneNumber = uniquePhone();
    const sessions = [await sessionFor(phoneNumber), await sessionFor(phoneNumber)];
    const otherPhone = await sessionFor();

    const { status, body } = await adminJson<{ revoked: boolean; revokedBefore: string }>('/v1/admin/sessions/revoke', {
      method: 'POST',
      body: JSON.stringify({ phoneNumber }),
    });
    expect(status).toBe(200);
    expect(body).toEqual({ revoked: true, revokedBefore: expect.any(String) });

    for (const cookie of sessions) expect((await getSession(cookie)).status).toBe(401);
    expect((await getSession(otherPhone)).status).toBe(200);
    // A session issued after the revocation (here: 1 ms after it, signed directly) is valid.
    const revokedBefore = Date.parse(body.revokedBefore);
    const later = await signSession(session({ phoneNumber, issuedAt: revokedBefore + 1 }), TEST_SESSION_SECRET);
    const atTheInstant = await signSession(session({ phoneNumber, issuedAt: revokedBefore }), TEST_SESSION_SECRET);
    expect((await getSession(later)).status).toBe(200);
    expect((await getSession(atTheInstant)).status).toBe(401);
  });

  it('revoking sessions is an operator action: bearer token and a valid number required', async () => {
    const phoneNumber = uniquePhone();
    const cookie = await sessionFor(phoneNumber);
    const unauthorized = await adminFetch('/v1/admin/sessions/revoke', {
      method: 'POST',
      body: JSON.stringify({ phoneNumber }),
      headers: { Authorization: 'Bearer wrong' },
    });
    expect(unauthorized.status).toBe(401);
    const invalid = await adminFetch('/v1/admin/sessions/revoke', { method: 'POST', body: JSON.stringify({ phoneNumber: '98765' }) });
    expect(invalid.status).toBe(400);
    expect((await errorOf(invalid)).code).toBe('invalid_phone_number');
    expect((await getSession(cookie)).status).toBe(200);
  });

  it('revocations store no phone number, and clear out rows whose cookies have expired anyway', async () => {
    // This file's tests share one database: start from empty revocation tables.
    await env.DB.batch([env.DB.prepare('DELETE FROM revoked_sessions'), env.DB.prepare('DELETE FROM phone_session_revocations')]);
    const phoneNumber = uniquePhone();
    await logout(await sessionFor(phoneNumber));
    await adminFetch('/v1/admin/sessions/revoke', { method: 'POST', body: JSON.stringify({ phoneNumber }) });
    const rows = async () => {
      const sessions = await env.DB.prepare('SELECT * FROM revoked_sessions').all<Record<string, unknown>>();
      const phones = await env.DB.prepare('SELECT * FROM phone_session_revocations').all<Record<string, unknown>>();
      return [...sessions.results, ...phones.results];
    };
    const stored = JSON.stringify(await rows());
    expect(stored).not.toContain(phoneNumber.slice(1));
    expect(stored).not.toContain(phoneNumber.slice(-7));
    expect(await rows()).toHaveLength(2);

    // Both rows have outlived every cookie they refuse: the next revocation deletes them.
    await env.DB.batch([
      env.DB.prepare('UPDATE revoked_sessions SET expires_at = ?').bind(Date.now() - 1),
      env.DB.prepare('UPDATE phone_session_revocations SET expires_at = ?').bind(Date.now() - 1),
    ]);
    await logout(await sessionFor());
    await adminFetch('/v1/admin/sessions/revoke', { method: 'POST', body: JSON.stringify({ phoneNumber: uniquePhone() }) });
    const left = await rows();
    expect(left).toHaveLength(2);
    expect(left.every((row) => (row.expires_at as number) > Date.now())).toBe(true);
  });
});

describe('the session status endpoint answers 401 and 403', () => {
  it('401 for a missing, malformed, expired, logged-out or operator-revoked session; the body names no phone', async () => {
    const phoneNumber = uniquePhone();
    const loggedOut = await sessionFor(phoneNumber);
    await logout(loggedOut);
    const revokedPhone = uniquePhone();
    const revoked = await sessionFor(revokedPhone);
    await adminFetch('/v1/admin/sessions/revoke', { method: 'POST', body: JSON.stringify({ phoneNumber: revokedPhone }) });
    const expired = await signSession(
      { sessionId: newSessionId(), phoneNumber, requestId: 'otp_AAAAAAAAAAAAAAAAAAAAAA', issuedAt: Date.now() - 2000, expiresAt: Date.now() - 1000 },
      TEST_SESSION_SECRET,
    );
    for (const cookie of [undefined, '', 'a.b', expired, loggedOut, revoked]) {
      const response = await getSession(cookie);
      expect(response.status, String(cookie)).toBe(401);
      const text = await response.text();
      expect(JSON.parse(text).error.code).toBe('unauthorized');
      expect(text).not.toContain(phoneNumber.slice(1));
      expect(text).not.toContain(revokedPhone.slice(1));
    }
  });

  it('403 forbidden_origin for a foreign origin even with a valid cookie, and nothing of the session in the answer', async () => {
    const phoneNumber = uniquePhone();
    const cookie = await sessionFor(phoneNumber);
    const foreign: Array<Record<string, string>> = [{ Origin: 'https://evil.example' }, { 'Sec-Fetch-Site': 'cross-site' }, { Origin: 'null' }];
    for (const headers of foreign) {
      const response = await getSession(cookie, headers);
      expect(response.status, JSON.stringify(headers)).toBe(403);
      const text = await response.text();
      expect(JSON.parse(text).error.code).toBe('forbidden_origin');
      expect(text).not.toContain(phoneNumber.slice(1));
    }
    // The same cookie from this service's own pages works.
    expect((await getSession(cookie, { Origin: BASE, 'Sec-Fetch-Site': 'same-origin' })).status).toBe(200);
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
    const configured = { ...env, CORS_ALLOWED_ORIGINS: 'https://app.example' } as Env;
    const preflight = (origin: string) =>
      fetchWithEnv(new Request(`${BASE}/v1/otp`, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'POST' } }), configured);
    const ok = await preflight('https://app.example');
    expect(ok.headers.get('Access-Control-Allow-Origin')).toBe('https://app.example');
    expect(ok.headers.get('Access-Control-Allow-Credentials')).toBe('true');
    const other = await preflight('https://evil.example');
    expect(other.headers.get('Access-Control-Allow-Origin')).toBeNull();

    const { id } = await seedRequest();
    // A browser on the app's origin verifies with the app's publishable key.
    const fromApp = await fetchWithEnv(
      new Request(`${BASE}/v1/otp/${id}/verify`, {
        method: 'POST',
        headers: withKey({ 'Content-Type': 'application/json', Origin: TEST_APP.origin }, TEST_APP.publishableKey),
        body: JSON.stringify({ code: await codeFor(id) }),
      }),
      configured,
    );
    expect(fromApp.status).toBe(200);
  });

  it('config refuses * as a CORS origin', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const response = await fetchWithEnv(new Request(`${BASE}/healthz`), { ...env, CORS_ALLOWED_ORIGINS: '*' } as Env);
    errors.mockRestore();
    expect(response.status).toBe(500);
  });
});
