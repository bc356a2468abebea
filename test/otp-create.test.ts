import { createExecutionContext, env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { CLAIM_TTL_MS, IDEMPOTENCY_WINDOW_MS } from '../src/db/idempotency-keys';
import { REQUEST_ID_PATTERN } from '../src/ids';
import worker from '../src/index';
import { sendJob } from '../src/queue/messages';
import { TEST_APP, withKey } from './support/apps';
import { recordingQueue, withFaultyBatch } from './support/faults';
import { requestRow, uniquePhone } from './support/fixtures';
import { agePhoneSends } from './support/phone-sends';
import { fetchWithEnv } from './support/worker';

interface Accepted {
  requestId: string;
  status: string;
  expiresAt: string;
  statusUrl: string;
}

function otpRequest(phoneNumber: string, headers: Record<string, string> = {}) {
  return new Request('https://otp.test/v1/otp', {
    method: 'POST',
    headers: withKey({ 'Content-Type': 'application/json', ...headers }),
    body: JSON.stringify({ phoneNumber }),
  });
}

const post = (phoneNumber: string, headers: Record<string, string> = {}) => SELF.fetch(otpRequest(phoneNumber, headers));

async function countRequests(phoneNumber: string) {
  const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM otp_requests WHERE phone_number = ?').bind(phoneNumber).first<{ n: number }>();
  return row!.n;
}

describe('POST /v1/otp', () => {
  it('answers 202 with the request id, status URL and expiry, and records the request', async () => {
    const phone = uniquePhone();
    const before = Date.now();
    const response = await post(phone);
    expect(response.status).toBe(202);
    const body = await response.json<Accepted>();
    expect(body.status).toBe('queued');
    expect(body.requestId).toMatch(REQUEST_ID_PATTERN);
    expect(body.statusUrl).toBe(`https://otp.test/v1/otp/${body.requestId}`);
    expect(response.headers.get('Location')).toBe(body.statusUrl);
    const expiresAt = Date.parse(body.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 300_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 300_000);

    const row = await requestRow(body.requestId);
    expect(row).toMatchObject({ phone_number: phone, status: expect.stringMatching(/queued|sending|sent/), origin: 'api' });
    expect(row.phone_prefix).toBe(phone.slice(0, 6));
  });

  it('request ids are unguessable: 128 random bits, no repeats', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) ids.add((await (await post(uniquePhone())).json<Accepted>()).requestId);
    expect(ids.size).toBe(20);
    for (const id of ids) expect(id).toMatch(REQUEST_ID_PATTERN);
  });

  it('replays the original answer for a repeated Idempotency-Key without a second request', async () => {
    const phone = uniquePhone();
    const key = crypto.randomUUID();
    const first = await post(phone, { 'Idempotency-Key': key });
    const second = await post(phone, { 'Idempotency-Key': key });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.headers.get('Idempotent-Replayed')).toBe('true');
    expect(await second.json()).toEqual(await first.json());
    expect(await countRequests(phone)).toBe(1);
  });

  it('answers 422 when an Idempotency-Key comes back with a different body', async () => {
    const key = crypto.randomUUID();
    expect((await post(uniquePhone(), { 'Idempotency-Key': key })).status).toBe(202);
    const other = uniquePhone();
    const conflict = await post(other, { 'Idempotency-Key': key });
    expect(conflict.status).toBe(422);
    expect((await conflict.json<{ error: { code: string } }>()).error.code).toBe('idempotency_key_conflict');
    expect(await countRequests(other)).toBe(0);
  });

  it('concurrent calls with one Idempotency-Key create one request: each answers its 202, or 409 until a retry replays it', async () => {
    const phone = uniquePhone();
    const key = crypto.randomUUID();
    const queue = recordingQueue();
    const testEnv = { ...env, SEND_QUEUE: queue.queue } as Env;
    const call = () => fetchWithEnv(otpRequest(phone, { 'Idempotency-Key': key }), testEnv);
    const first = await Promise.all(Array.from({ length: 5 }, call));
    // A call that finds the key's request still being created is told so, never rate-limited.
    for (const response of first.filter((r) => r.status !== 202)) {
      expect(response.status).toBe(409);
      expect(response.headers.get('Retry-After')).toBe('1');
      expect((await response.json<{ error: { code: string } }>()).error.code).toBe('request_in_progress');
    }
    // Its retry, once the first call is done, is answered with the first call's request.
    const answers = await Promise.all(first.map((response) => (response.status === 409 ? call() : response)));
    expect(answers.map((response) => response.status)).toEqual([202, 202, 202, 202, 202]);
    const ids = await Promise.all(answers.map(async (response) => (await response.json<Accepted>()).requestId));
    expect(new Set(ids).size).toBe(1);
    expect(answers.filter((response) => response.headers.get('Idempotent-Replayed') === 'true')).toHaveLength(4);
    expect(await countRequests(phone)).toBe(1);
    expect(queue.sent).toEqual([{ body: sendJob(ids[0]!), delaySeconds: undefined }]);
  });

  it('a key claimed by a call that died answers 409 until the claim lapses; then the key creates the request', async () => {
    const phone = uniquePhone();
    const key = crypto.randomUUID();
    const roomy = { ...env, PHONE_LIMITS: '100/60', PHONE_COOLDOWN_SECONDS: '0' } as Env;
    // This call claims the key, then D1 stops answering it for good: it never finishes.
    void worker.fetch(otpRequest(phone, { 'Idempotency-Key': key }), { ...roomy, DB: withFaultyBatch(env.DB, () => 'hang') } as Env, createExecutionContext());
    const claim = () =>
      env.DB.prepare('SELECT request_id, pending_until FROM idempotency_keys WHERE key = ?')
        .bind(key)
        .first<{ request_id: string; pending_until: number | null }>();
    for (let i = 0; i < 200 && !(await claim()); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    const pending = await claim();
    expect(pending?.pending_until).toBeGreaterThan(Date.now());

    const waiting = await fetchWithEnv(otpRequest(phone, { 'Idempotency-Key': key }), roomy);
    expect(waiting.status).toBe(409);
    expect((await waiting.json<{ error: { code: string } }>()).error.code).toBe('request_in_progress');
    expect(await countRequests(phone)).toBe(0);

    // The claim's time runs out.
    await env.DB.prepare('UPDATE idempotency_keys SET pending_until = pending_until - ?1 WHERE key = ?2').bind(CLAIM_TTL_MS, key).run();
    const created = await fetchWithEnv(otpRequest(phone, { 'Idempotency-Key': key }), roomy);
    expect(created.status).toBe(202);
    expect(created.headers.get('Idempotent-Replayed')).toBeNull();
    const { requestId } = await created.json<Accepted>();
    expect(await claim()).toEqual({ request_id: requestId, pending_until: null });
    expect(await countRequests(phone)).toBe(1);
  });

  it('a call refused by the limiter gives its key up: the retry, once admitted, creates the request', async () => {
    const phone = uniquePhone();
    const key = crypto.randomUUID();
    expect((await post(phone)).status).toBe(202);
    const refused = await post(phone, { 'Idempotency-Key': key });
    expect(refused.status).toBe(429);
    expect((await refused.json<{ error: { code: string } }>()).error.code).toBe('phone_rate_limited');
    // The phone's windows and cooldown pass.
    await agePhoneSends(phone, 3_600_000);
    const retried = await post(phone, { 'Idempotency-Key': key });
    expect(retried.status).toBe(202);
    expect(retried.headers.get('Idempotent-Replayed')).toBeNull();
    expect(await countRequests(phone)).toBe(2);
  });

  it('a key answers with its request for 24 hours; after that the same key creates a new request', async () => {
    const phone = uniquePhone();
    const key = crypto.randomUUID();
    const roomy = { ...env, PHONE_LIMITS: '100/60', PHONE_COOLDOWN_SECONDS: '0' } as Env;
    const send = () => fetchWithEnv(otpRequest(phone, { 'Idempotency-Key': key }), roomy);
    const age = (ms: number) => env.DB.prepare('UPDATE idempotency_keys SET created_at = created_at - ?1 WHERE key = ?2').bind(ms, key).run();
    const { requestId } = await (await send()).json<Accepted>();

    await age(IDEMPOTENCY_WINDOW_MS - 60_000);
    const replayed = await send();
    expect(replayed.headers.get('Idempotent-Replayed')).toBe('true');
    expect((await replayed.json<Accepted>()).requestId).toBe(requestId);

    await age(60_000);
    const renewed = await send();
    expect(renewed.status).toBe(202);
    expect(renewed.headers.get('Idempotent-Replayed')).toBeNull();
    expect((await renewed.json<Accepted>()).requestId).not.toBe(requestId);
    expect(await countRequests(phone)).toBe(2);
  });

  it('admits exactly one of 50 concurrent sends for one phone; the rest get 429 phone_rate_limited with Retry-After', async () => {
    const phone = uniquePhone();
    const responses = await Promise.all(Array.from({ length: 50 }, () => post(phone)));
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 202)).toHaveLength(1);
    expect(statuses.filter((status) => status === 429)).toHaveLength(49);
    const denied = responses.find((response) => response.status === 429)!;
    const retryAfter = Number(denied.headers.get('Retry-After'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(denied.headers.get('RateLimit')).toBe(`"otp";r=0;t=${retryAfter}`);
    expect(denied.headers.get('RateLimit-Policy')).toBe('"otp";q=1;w=60');
    const body = await denied.json<{ error: { code: string; message: string } }>();
    expect(body.error.code).toBe('phone_rate_limited');
    expect(body.error.message).toMatch(/phone number/);
    expect(await countRequests(phone)).toBe(1);
  });

  it('a new request supersedes the phone’s earlier active one', async () => {
    const phone = uniquePhone();
    const now = Date.now();
    await env.DB.prepare(
      `INSERT INTO otp_requests (id, phone_number, phone_prefix, status, created_at, updated_at, expires_at, app_id, code_length)
       VALUES ('otp_OLDOLDOLDOLDOLDOLDOLD1', ?1, '+9198', 'sent', ?2, ?2, ?3, ?4, 6)`,
    )
      .bind(phone, now - 120_000, now + 180_000, TEST_APP.id)
      .run();
    expect((await post(phone)).status).toBe(202);
    expect((await requestRow('otp_OLDOLDOLDOLDOLDOLDOLD1')).status).toBe('superseded');
  });
});

describe('GET /v1/otp/:requestId', () => {
  it('answers the status with the phone number masked', async () => {
    const phone = '+919876543210';
    const { requestId } = await (await post(phone)).json<Accepted>();
    const response = await SELF.fetch(`https://otp.test/v1/otp/${requestId}`, { headers: withKey() });
    expect(response.status).toBe(200);
    expect(response.headers.get('Cache-Control')).toBe('no-store');
    const body = await response.json<Record<string, unknown>>();
    expect(body).toMatchObject({ requestId, phoneNumber: '+91******3210' });
    expect(JSON.stringify(body)).not.toContain('9876543210');
    expect(['queued', 'sending', 'sent']).toContain(body.status);
    for (const field of ['createdAt', 'updatedAt', 'expiresAt']) expect(Date.parse(body[field] as string)).not.toBeNaN();
  });

  it('reports a lapsed code as expired with a reason', async () => {
    const now = Date.now();
    await env.DB.prepare(
      `INSERT INTO otp_requests (id, phone_number, phone_prefix, status, created_at, updated_at, expires_at, attempts, app_id, code_length)
       VALUES ('otp_EXPIREDEXPIREDEXPIRED1', '+919812345678', '+9198', 'sent', ?1, ?1, ?2, 1, ?3, 6)`,
    )
      .bind(now - 400_000, now - 100_000, TEST_APP.id)
      .run();
    const body = await (await SELF.fetch('https://otp.test/v1/otp/otp_EXPIREDEXPIREDEXPIRED1', { headers: withKey() })).json<Record<string, unknown>>();
    expect(body).toMatchObject({ status: 'expired', lastError: { code: 'code_expired' } });
  });
});
