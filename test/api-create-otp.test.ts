import { SELF, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { REQUEST_ID_PATTERN } from '../src/ids';
import { requestRow, uniquePhone } from './support/fixtures';

interface Accepted {
  requestId: string;
  status: string;
  expiresAt: string;
  statusUrl: string;
}

function post(phoneNumber: string, headers: Record<string, string> = {}) {
  return SELF.fetch('https://otp.test/v1/otp', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify({ phoneNumber }),
  });
}

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

  it('concurrent calls with one Idempotency-Key create one request', async () => {
    const phone = uniquePhone();
    const key = crypto.randomUUID();
    const responses = await Promise.all(Array.from({ length: 5 }, () => post(phone, { 'Idempotency-Key': key })));
    const accepted = responses.filter((response) => response.status === 202);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    const ids = new Set(await Promise.all(accepted.map(async (response) => (await response.json<Accepted>()).requestId)));
    expect(ids.size).toBe(1);
    expect(await countRequests(phone)).toBe(1);
  });

  it('admits exactly one of 50 concurrent sends for one phone; the rest get 429 with Retry-After', async () => {
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
    expect(body.error.code).toBe('rate_limited');
    expect(body.error.message).not.toMatch(/phone|hour|minute/i);
    expect(await countRequests(phone)).toBe(1);
  });

  it('a new request supersedes the phone’s earlier active one', async () => {
    const phone = uniquePhone();
    const now = Date.now();
    await env.DB.prepare(
      `INSERT INTO otp_requests (id, phone_number, phone_prefix, status, created_at, updated_at, expires_at)
       VALUES ('otp_OLDOLDOLDOLDOLDOLDOLD1', ?1, '+9198', 'sent', ?2, ?2, ?3)`,
    )
      .bind(phone, now - 120_000, now + 180_000)
      .run();
    expect((await post(phone)).status).toBe(202);
    expect((await requestRow('otp_OLDOLDOLDOLDOLDOLDOLD1')).status).toBe('superseded');
  });
});

describe('GET /v1/otp/:requestId', () => {
  it('answers the status with the phone number masked', async () => {
    const phone = '+919876543210';
    const { requestId } = await (await post(phone)).json<Accepted>();
    const response = await SELF.fetch(`https://otp.test/v1/otp/${requestId}`);
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
      `INSERT INTO otp_requests (id, phone_number, phone_prefix, status, created_at, updated_at, expires_at, attempts)
       VALUES ('otp_EXPIREDEXPIREDEXPIRED1', '+919812345678', '+9198', 'sent', ?1, ?1, ?2, 1)`,
    )
      .bind(now - 400_000, now - 100_000)
      .run();
    const body = await (await SELF.fetch('https://otp.test/v1/otp/otp_EXPIREDEXPIREDEXPIRED1')).json<Record<string, unknown>>();
    expect(body).toMatchObject({ status: 'expired', lastError: { code: 'code_expired' } });
  });
});
