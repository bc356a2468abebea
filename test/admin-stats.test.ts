import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { adminJson } from './support/admin';
import { insertAttemptRow, insertRequestRow, privateWindow } from './support/audit-seed';

const HOUR = 3_600_000;

interface Stats {
  bucket: string;
  requests: { total: number; byStatus: Record<string, number>; byOrigin: Record<string, number> };
  delivery: Record<string, number | null>;
  attempts: {
    total: number;
    byOutcome: Record<string, number>;
    perRequest: { average: number | null; max: number; distribution: Array<{ attempts: number; orMore: boolean; requests: number }> };
  };
  latencyMs: {
    count: number;
    mean: number | null;
    p50: number | null;
    p95: number | null;
    p99: number | null;
    max: number | null;
    histogram: Array<{ upToMs: number | null; count: number }>;
  };
  topErrors: Array<{ source: string; code: string; count: number }>;
  byCountry: Array<Record<string, number | string>>;
  series: Array<{ start: string; requests: number; delivered: number; verified: number; attempts: Record<string, number> }>;
}

const { since, until } = privateWindow(24 * HOUR);
const query = (extra: Record<string, string> = {}) =>
  adminJson<Stats>(
    `/v1/admin/stats?${new URLSearchParams({ since: new Date(since).toISOString(), until: new Date(until).toISOString(), bucket: '1h', ...extra })}`,
  );

beforeAll(async () => {
  const h = (n: number, plus = 0) => since + n * HOUR + plus;
  await insertRequestRow({ phoneNumber: '+919800000001', createdAt: h(0, 1), status: 'delivered', sentAt: h(0, 2), deliveryStatus: 'delivered', attempts: 1 });
  await insertRequestRow({
    phoneNumber: '+919800000002',
    createdAt: h(0, 5),
    status: 'verified',
    sentAt: h(0, 6),
    deliveryStatus: 'delivered',
    attempts: 2,
    verifiedAt: h(0, 9),
  });
  await insertRequestRow({ phoneNumber: '+919800000003', createdAt: h(1, 1), status: 'failed', attempts: 1, lastErrorCode: 'provider_rejected_request' });
  await insertRequestRow({ phoneNumber: '+447700900001', createdAt: h(1, 2), status: 'expired', attempts: 3, lastErrorCode: 'expired_before_delivery' });
  const undelivered = await insertRequestRow({
    phoneNumber: '+447700900002',
    createdAt: h(2, 1),
    status: 'failed',
    sentAt: h(2, 2),
    deliveryStatus: 'failed',
    attempts: 1,
    lastErrorCode: 'provider_delivery_failed',
  });
  await insertRequestRow({ phoneNumber: '+15555550199', createdAt: h(2, 3), status: 'sent', sentAt: h(2, 4), deliveryStatus: 'unknown', attempts: 6 });
  const resent = await insertRequestRow({ phoneNumber: '+15555550198', createdAt: h(2, 5), status: 'queued', origin: 'operator_resend' });
  // Outside the window on both sides: never counted.
  const before = await insertRequestRow({ phoneNumber: '+919800000009', createdAt: since - 1, status: 'failed', attempts: 1 });
  await insertRequestRow({ phoneNumber: '+919800000009', createdAt: until, status: 'failed', attempts: 1 });
  await insertAttemptRow({ requestId: before.id, attemptNumber: 1, startedAt: since - 1, durationMs: 99_999, outcome: 'failed', errorCode: 'outside' });

  // 100 provider calls lasting 1..100 ms: 80 sent, 15 retried (503), 5 failed (400).
  for (let ms = 1; ms <= 100; ms += 1) {
    const outcome = ms <= 80 ? 'sent' : ms <= 95 ? 'retry' : 'failed';
    await insertAttemptRow({
      requestId: resent.id,
      attemptNumber: ms,
      startedAt: ms <= 50 ? h(3, ms) : h(4, ms),
      durationMs: ms,
      outcome,
      errorCode: outcome === 'retry' ? 'provider_unavailable' : outcome === 'failed' ? 'provider_rejected_request' : null,
    });
  }
  await env.DB.prepare(
    `INSERT INTO status_checks (request_id, check_number, checked_at, duration_ms, outcome, error_code) VALUES (?1, 1, ?2, 30, 'failed', 'provider_delivery_failed')`,
  )
    .bind(undelivered.id, h(2, 100))
    .run();
});

describe('GET /v1/admin/stats on seeded data', () => {
  it('counts requests by status and origin', async () => {
    const { status, body } = await query();
    expect(status).toBe(200);
    expect(body.requests).toEqual({
      total: 7,
      byStatus: { delivered: 1, verified: 1, failed: 2, expired: 1, sent: 1, queued: 1 },
      byOrigin: { api: 6, operator_resend: 1 },
    });
  });

  it('computes delivery and conversion rates', async () => {
    const { body } = await query();
    expect(body.delivery).toEqual({
      accepted: 4,
      delivered: 2,
      failed: 1,
      pending: 0,
      unknown: 1,
      verified: 1,
      acceptedRate: 0.6667, // 4 accepted of 6 whose sending ended (2 never accepted: failed, expired)
      successRate: 0.6667, // 2 delivered of 3 final reports
      verifiedRate: 0.25,
    });
  });

  it('counts attempts by outcome and per request', async () => {
    const { body } = await query();
    expect(body.attempts.total).toBe(100);
    expect(body.attempts.byOutcome).toEqual({ sent: 80, retry: 15, failed: 5, expired: 0 });
    expect(body.attempts.perRequest).toEqual({
      average: 2.3333, // 14 provider calls over the 6 requests that had any
      max: 6,
      distribution: [
        { attempts: 1, orMore: false, requests: 3 },
        { attempts: 2, orMore: false, requests: 1 },
        { attempts: 3, orMore: false, requests: 1 },
        { attempts: 5, orMore: true, requests: 1 },
      ],
    });
  });

  it('gives provider latency percentiles by nearest rank, and a histogram', async () => {
    const { body } = await query();
    expect(body.latencyMs).toMatchObject({ count: 100, p50: 50, p95: 95, p99: 99, max: 100, mean: 51 });
    expect(body.latencyMs.histogram).toEqual([
      { upToMs: 100, count: 99 },
      { upToMs: 250, count: 1 },
      { upToMs: 500, count: 0 },
      { upToMs: 1000, count: 0 },
      { upToMs: 2000, count: 0 },
      { upToMs: 5000, count: 0 },
      { upToMs: 10000, count: 0 },
      { upToMs: null, count: 0 },
    ]);
  });

  it('percentiles of a small sample pick real values (nearest rank)', async () => {
    // The first hour has no attempts; 03:00-04:00 holds durations 1..50.
    const { body } = await adminJson<Stats>(`/v1/admin/stats?since=${since + 3 * HOUR}&until=${since + 4 * HOUR}&bucket=15m`);
    expect(body.latencyMs).toMatchObject({ count: 50, p50: 25, p95: 48, p99: 50, max: 50 });
    expect(body.series).toHaveLength(4);
  });

  it('lists the top error codes of attempts and status checks', async () => {
    const { body } = await query();
    expect(body.topErrors).toEqual([
      { source: 'attempt', code: 'provider_unavailable', count: 15 },
      { source: 'attempt', code: 'provider_rejected_request', count: 5 },
      { source: 'status_check', code: 'provider_delivery_failed', count: 1 },
    ]);
  });

  it('breaks requests down by country calling code', async () => {
    const { body } = await query();
    expect(body.byCountry).toEqual([
      { country: '+91', requests: 3, accepted: 2, delivered: 2, failed: 1, expired: 0, verified: 1 },
      { country: '+1', requests: 2, accepted: 1, delivered: 0, failed: 0, expired: 0, verified: 0 },
      { country: '+44', requests: 2, accepted: 1, delivered: 0, failed: 1, expired: 1, verified: 0 },
    ]);
  });

  it('gives a series per time bucket, every bucket present', async () => {
    const { body } = await query();
    expect(body.bucket).toBe('1h');
    expect(body.series).toHaveLength(24);
    expect(body.series[0]).toEqual({
      start: new Date(since).toISOString(),
      requests: 2,
      delivered: 2,
      verified: 1,
      attempts: { sent: 0, retry: 0, failed: 0, expired: 0 },
    });
    expect(body.series.map((point) => point.requests)).toEqual([2, 2, 3, ...Array(21).fill(0)]);
    expect(body.series[3]!.attempts).toEqual({ sent: 50, retry: 0, failed: 0, expired: 0 });
    expect(body.series[4]!.attempts).toEqual({ sent: 30, retry: 15, failed: 5, expired: 0 });
  });

  it('an empty range answers zeros and nulls, not errors', async () => {
    const { status, body } = await adminJson<Stats>(`/v1/admin/stats?since=${until + 10 * HOUR}&until=${until + 11 * HOUR}`);
    expect(status).toBe(200);
    expect(body.requests.total).toBe(0);
    expect(body.latencyMs).toMatchObject({ count: 0, p50: null, p99: null });
    expect(body.delivery.successRate).toBeNull();
  });

  it('defaults to the last 24 hours with an automatic bucket', async () => {
    const { status, body } = await adminJson<Stats>('/v1/admin/stats');
    expect(status).toBe(200);
    expect(body.bucket).toBe('15m');
    expect(body.series).toHaveLength(96);
  });

  it.each([
    ['since after until', { since: String(until), until: String(since) }],
    ['too many points', { since: String(since), until: String(since + 30 * 24 * HOUR), bucket: '1m' }],
    ['an unknown bucket', { bucket: '2h' }],
    ['a range over 400 days', { since: '0', until: String(401 * 24 * HOUR) }],
  ])('%s is a 400', async (_name, params) => {
    const { status, body } = await adminJson<{ error: { code: string } }>(`/v1/admin/stats?${new URLSearchParams(params)}`);
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_request');
  });
});
