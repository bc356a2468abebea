import { beforeAll, describe, expect, it } from 'vitest';
import { STUCK_AFTER_MS } from '../src/db/stats-queries';
import { adminJson } from './support/admin';
import { insertRequestRow } from './support/audit-seed';

/**
 * The parts of GET /v1/admin/stats that read the whole table rather than a range: the requests
 * in flight now, and where `since=first` starts. This file seeds every row its database holds.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface Stats {
  since: string;
  until: string;
  bucket: string;
  requests: { total: number };
  series: unknown[];
  inFlight: { queued: number; sending: number; stuck: number; stuckAfterSeconds: number; oldestStuckAt: string | null };
}

let now: number;
let oldest: number;

beforeAll(async () => {
  now = Date.now();
  oldest = now - 3 * HOUR - 17_000;
  // Stuck: queued since long ago (its code expired, and no sweeper ran), and sending with nothing heard for 10 minutes.
  await insertRequestRow({ phoneNumber: '+919811100001', createdAt: oldest, status: 'queued' });
  await insertRequestRow({ phoneNumber: '+919811100002', createdAt: now - 10 * MINUTE, status: 'sending', attempts: 1 });
  // In flight, not stuck: queued a few seconds ago.
  await insertRequestRow({ phoneNumber: '+919811100003', createdAt: now - 5_000, status: 'queued' });
  // Finished long ago: neither.
  await insertRequestRow({ phoneNumber: '+919811100004', createdAt: now - 2 * HOUR, status: 'sent', sentAt: now - 2 * HOUR, attempts: 1 });
  await insertRequestRow({
    phoneNumber: '+919811100005',
    createdAt: now - 2 * HOUR,
    status: 'failed',
    attempts: 1,
    lastErrorCode: 'provider_rejected_request',
  });
});

describe('GET /v1/admin/stats: work in flight now', () => {
  it('counts queued and sending requests, and those untouched for two minutes as stuck, whatever the range', async () => {
    expect(STUCK_AFTER_MS).toBe(2 * MINUTE);
    const expected = { queued: 2, sending: 1, stuck: 2, stuckAfterSeconds: 120, oldestStuckAt: new Date(oldest).toISOString() };
    expect((await adminJson<Stats>('/v1/admin/stats')).body.inFlight).toEqual(expected);
    // A range in the distant past: nothing in it, the figure of now all the same.
    const past = await adminJson<Stats>(`/v1/admin/stats?since=${Date.UTC(2001, 0, 1)}&until=${Date.UTC(2001, 0, 2)}`);
    expect(past.body.requests.total).toBe(0);
    expect(past.body.inFlight).toEqual(expected);
  });
});

describe('GET /v1/admin/stats?since=first', () => {
  it('starts at the minute of the first request, with a bucket fitted to that span', async () => {
    const { status, body } = await adminJson<Stats>(`/v1/admin/stats?since=first&until=${now}`);
    expect(status).toBe(200);
    expect(body.since).toBe(new Date(Math.floor(oldest / MINUTE) * MINUTE).toISOString());
    expect(body.until).toBe(new Date(now).toISOString());
    // A little over three hours: 1-minute bars would be over 120, 5-minute ones fit.
    expect(body.bucket).toBe('5m');
    expect(body.series).toHaveLength(Math.ceil((now - Math.floor(oldest / MINUTE) * MINUTE) / (5 * MINUTE)));
    expect(body.requests.total).toBe(5);
  });

  it('spans at least 15 minutes, in 1-minute bars, when the first request is recent', async () => {
    const until = now - 3 * HOUR + 5 * MINUTE;
    const { body } = await adminJson<Stats>(`/v1/admin/stats?since=first&until=${until}`);
    expect(body.since).toBe(new Date(until - 15 * MINUTE).toISOString());
    expect(body.bucket).toBe('1m');
    expect(body.series).toHaveLength(15);
    expect(body.requests.total).toBe(1);
  });

  it('with no request before until, the last 15 minutes', async () => {
    const until = oldest - HOUR;
    const { status, body } = await adminJson<Stats>(`/v1/admin/stats?since=first&until=${until}`);
    expect(status).toBe(200);
    expect(body.since).toBe(new Date(until - 15 * MINUTE).toISOString());
    expect(body.requests.total).toBe(0);
  });

  it('any other word is a 400', async () => {
    const { status, body } = await adminJson<{ error: { code: string } }>('/v1/admin/stats?since=last');
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_request');
  });
});
