import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { deriveCode } from '../src/codes';
import { rateLimiterFor, verifyFailureKey } from '../src/limiter/limiter-client';
import type { RateLimiter } from '../src/limiter/rate-limiter';
import { adminJson } from './support/admin';
import { withKey } from './support/apps';
import { recordingQueue } from './support/faults';
import { TEST_OTP_SECRET, uniquePhone } from './support/fixtures';
import { storedSendsOfIp } from './support/ip-sends';
import { storedPhoneSends } from './support/phone-sends';
import { fetchWithEnv } from './support/worker';

/** Two wrong codes lock a phone for an hour; sends are limited only by the lock here. */
const VARS = { VERIFY_FAILURE_LIMITS: '2/3600', PHONE_LIMITS: '100/86400', PHONE_COOLDOWN_SECONDS: '0' };

let ipCounter = 0;
const uniqueIp = () => `203.0.113.${++ipCounter}`;

function lockEnv() {
  const queue = recordingQueue();
  return { queue, testEnv: { ...env, ...VARS, SEND_QUEUE: queue.queue } as Env };
}

async function send(testEnv: Env, phoneNumber: string, ip = uniqueIp()) {
  return fetchWithEnv(
    new Request('https://otp.test/v1/otp', {
      method: 'POST',
      headers: withKey({ 'Content-Type': 'application/json', 'CF-Connecting-IP': ip }),
      body: JSON.stringify({ phoneNumber }),
    }),
    testEnv,
  );
}

async function verify(testEnv: Env, requestId: string, right: boolean) {
  const code = await deriveCode(TEST_OTP_SECRET, requestId, 6);
  const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
  return fetchWithEnv(
    new Request(`https://otp.test/v1/otp/${requestId}/verify`, {
      method: 'POST',
      headers: withKey({ 'Content-Type': 'application/json' }),
      body: JSON.stringify({ code: right ? code : wrong }),
    }),
    testEnv,
  );
}

/** Asks for a code and guesses wrong until the phone's budget of two is spent. */
async function lockPhone(testEnv: Env, phoneNumber: string) {
  const sent = await send(testEnv, phoneNumber);
  expect(sent.status).toBe(202);
  const { requestId } = await sent.json<{ requestId: string }>();
  for (let i = 0; i < 2; i++) expect((await verify(testEnv, requestId, false)).status).toBe(400);
}

const errorCode = async (response: Response) => (await response.json<{ error: { code: string } }>()).error.code;
const countRequests = async (phoneNumber: string) =>
  (await env.DB.prepare('SELECT COUNT(*) AS n FROM otp_requests WHERE phone_number = ?').bind(phoneNumber).first<{ n: number }>())!.n;

interface LockedPhone {
  phoneNumber: string;
  failures: number;
  lockedUntil: string;
}

describe('a phone whose wrong-code budget is spent', () => {
  it('gets 429 phone_locked on POST /v1/otp with Retry-After; no request, no SMS, no limit spent', async () => {
    const { queue, testEnv } = lockEnv();
    const phone = uniquePhone();
    await lockPhone(testEnv, phone);
    const ip = uniqueIp();

    const refused = await send(testEnv, phone, ip);
    expect(refused.status).toBe(429);
    expect(await errorCode(refused)).toBe('phone_locked');
    const retryAfter = Number(refused.headers.get('Retry-After'));
    expect(retryAfter).toBeGreaterThan(3000);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(refused.headers.get('RateLimit')).toBe(`"otp";r=0;t=${retryAfter}`);
    expect(await countRequests(phone)).toBe(1);
    expect(queue.sent).toHaveLength(1);
    // The scopes that admitted the refused send were refunded.
    expect(await storedPhoneSends(phone)).toBe(1);
    expect(await storedSendsOfIp(ip)).toBe(0);
  });

  it('is listed for operators, who can lift the lock: the phone then gets and verifies a code', async () => {
    const { testEnv } = lockEnv();
    const phone = uniquePhone();
    await lockPhone(testEnv, phone);

    const listed = await adminJson<{ lockedPhones: LockedPhone[] }>('/v1/admin/locked-phones', {}, testEnv);
    expect(listed.status).toBe(200);
    const lock = listed.body.lockedPhones.find((entry) => entry.phoneNumber === phone);
    expect(lock).toMatchObject({ phoneNumber: phone, failures: 2 });
    const lockedFor = Date.parse(lock!.lockedUntil) - Date.now();
    expect(lockedFor).toBeGreaterThan(3_000_000);
    expect(lockedFor).toBeLessThanOrEqual(3_600_000);

    const lifted = await adminJson<{ lifted: LockedPhone }>(`/v1/admin/locked-phones/${encodeURIComponent(phone)}`, { method: 'DELETE' }, testEnv);
    expect(lifted).toEqual({ status: 200, body: { lifted: lock } });
    const after = await adminJson<{ lockedPhones: LockedPhone[] }>('/v1/admin/locked-phones', {}, testEnv);
    expect(after.body.lockedPhones.map((entry) => entry.phoneNumber)).not.toContain(phone);

    const sent = await send(testEnv, phone);
    expect(sent.status).toBe(202);
    // The failure budget started afresh too: the right code verifies.
    expect((await verify(testEnv, (await sent.json<{ requestId: string }>()).requestId, true)).status).toBe(200);

    const again = await adminJson<{ error: { code: string } }>(`/v1/admin/locked-phones/${encodeURIComponent(phone)}`, { method: 'DELETE' }, testEnv);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('not_found');
  });

  it('is recorded again by the next refused guess if its record was lost', async () => {
    const { testEnv } = lockEnv();
    const phone = uniquePhone();
    await lockPhone(testEnv, phone);
    await env.DB.prepare('DELETE FROM phone_locks WHERE phone_number = ?').bind(phone).run();
    const sent = await send(testEnv, phone);
    expect(sent.status).toBe(202);

    const guess = await verify(testEnv, (await sent.json<{ requestId: string }>()).requestId, true);
    expect(guess.status).toBe(429);
    expect(await errorCode(guess)).toBe('too_many_attempts');
    const refused = await send(testEnv, phone);
    expect(refused.status).toBe(429);
    expect(await errorCode(refused)).toBe('phone_locked');
  });

  it('is free again once the budget’s window has passed', async () => {
    const { testEnv } = lockEnv();
    const phone = uniquePhone();
    await lockPhone(testEnv, phone);
    // An hour passes: the failures leave their window, and the lock's time is up.
    await runInDurableObject(rateLimiterFor(env, verifyFailureKey(phone)), (_i: RateLimiter, state) => {
      state.storage.sql.exec('UPDATE events SET at = at - 3600000');
    });
    await env.DB.prepare('UPDATE phone_locks SET locked_until = locked_until - 3600000 WHERE phone_number = ?').bind(phone).run();

    expect((await send(testEnv, phone)).status).toBe(202);
    const listed = await adminJson<{ lockedPhones: LockedPhone[] }>('/v1/admin/locked-phones', {}, testEnv);
    expect(listed.body.lockedPhones.map((entry) => entry.phoneNumber)).not.toContain(phone);
    const lift = await adminJson<{ error: { code: string } }>(`/v1/admin/locked-phones/${encodeURIComponent(phone)}`, { method: 'DELETE' }, testEnv);
    expect(lift.status).toBe(404);
  });
});

describe('the locked-phones admin routes', () => {
  it('refuse a malformed number with 400 and a missing token with 401', async () => {
    const bad = await adminJson<{ error: { code: string } }>('/v1/admin/locked-phones/12345', { method: 'DELETE' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_phone_number');
    const anonymous = await adminJson('/v1/admin/locked-phones', { headers: { Authorization: '' } });
    expect(anonymous.status).toBe(401);
  });

  it('are in the OpenAPI document, behind the bearer token', async () => {
    const spec = await (await fetchWithEnv(new Request('https://otp.test/openapi.json'), env)).json<{
      paths: Record<string, Record<string, { security?: unknown }>>;
    }>();
    expect(spec.paths['/v1/admin/locked-phones']?.get?.security).toEqual([{ adminBearer: [] }]);
    expect(spec.paths['/v1/admin/locked-phones/{phoneNumber}']?.delete?.security).toEqual([{ adminBearer: [] }]);
  });
});
