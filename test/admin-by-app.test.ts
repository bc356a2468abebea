import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { adminFetch, adminJson } from './support/admin';
import { type MadeApp, makeApp, withKey } from './support/apps';
import { insertAttemptRow, insertRequestRow, privateWindow } from './support/audit-seed';
import { uniquePhone } from './support/fixtures';
import { deliverSendJobs } from './support/queue';
import { recordingQueue, withQueue } from './support/recording-queue';
import { fetchWithEnv } from './support/worker';

/** The operators' views of two apps' requests: filtered by app, counted by app. Resends by app: resend-by-app.test.ts. */

const TEST_NUMBER = '+15005550009';
interface AdminRequest {
  requestId: string;
  appId: string | null;
  testNumber: boolean;
}
interface Attempt {
  requestId: string;
  appId: string | null;
  provider: string | null;
}
interface AppFigures {
  appId: string | null;
  name: string | null;
  requests: number;
  sent: number;
  verified: number;
  failed: number;
  conversion: number | null;
}
interface Stats {
  since: string;
  appId: string | null;
  requests: { total: number; byStatus: Record<string, number> };
  attempts: { total: number };
  topErrors: Array<{ source: string; code: string; count: number }>;
  byApp: AppFigures[];
  series: Array<{ requests: number }>;
  inFlight: { queued: number };
}

let checkout: MadeApp;
let support: MadeApp;
const made = new Map<string, string[]>();

async function create(app: MadeApp, phoneNumber: string, testEnv: Env): Promise<string> {
  const request = new Request('https://otp.test/v1/otp', {
    method: 'POST',
    headers: withKey({ 'Content-Type': 'application/json' }, app.secretKey),
    body: JSON.stringify({ phoneNumber }),
  });
  const response = await fetchWithEnv(request, testEnv);
  expect(response.status).toBe(202);
  const { requestId } = await response.json<{ requestId: string }>();
  made.set(app.id, [...(made.get(app.id) ?? []), requestId]);
  return requestId;
}

beforeAll(async () => {
  checkout = await makeApp({}, 'Checkout');
  support = await makeApp({ testNumbers: [{ phoneNumber: TEST_NUMBER, code: '1234' }] }, 'Support');
  const queue = recordingQueue();
  const testEnv = withQueue(queue.binding);
  const sentA = await create(checkout, uniquePhone(), testEnv);
  await create(checkout, uniquePhone(), testEnv);
  const sentB = await create(support, uniquePhone(), testEnv);
  await create(support, uniquePhone(), testEnv);
  await create(support, TEST_NUMBER, testEnv);
  // One request of each app reaches the (sandbox) provider; the other stays queued.
  await deliverSendJobs(testEnv, [sentA, sentB]);
});

describe('requests and attempts filtered by app', () => {
  it('the listing, its CSV and a request’s detail show only that app’s requests, with appId and testNumber', async () => {
    for (const app of [checkout, support]) {
      const { status, body } = await adminJson<{ requests: AdminRequest[] }>(`/v1/admin/requests?appId=${app.id}`);
      expect(status).toBe(200);
      expect(body.requests.map((r) => r.requestId).sort()).toEqual([...made.get(app.id)!].sort());
      expect(new Set(body.requests.map((r) => r.appId))).toEqual(new Set([app.id]));
    }
    const supportRequests = (await adminJson<{ requests: AdminRequest[] }>(`/v1/admin/requests?appId=${support.id}`)).body.requests;
    expect(supportRequests.map((r) => r.testNumber).sort()).toEqual([false, false, true]);

    const csv = await (await adminFetch(`/v1/admin/requests?appId=${checkout.id}&format=csv`)).text();
    const [header, ...lines] = csv.trim().split('\r\n');
    const column = header!.split(',').indexOf('appId');
    expect(column).toBeGreaterThan(-1);
    expect(lines.map((line) => line.split(',')[column])).toEqual([checkout.id, checkout.id]);

    const testNumberId = supportRequests.find((r) => r.testNumber)!.requestId;
    const detail = await adminJson<{ request: AdminRequest; attempts: Attempt[] }>(`/v1/admin/requests/${testNumberId}`);
    expect(detail.body.request).toMatchObject({ appId: support.id, testNumber: true });
    expect(detail.body.attempts).toMatchObject([{ appId: support.id, provider: 'test_number' }]);
  });

  it('attempts by app are those of the app’s requests, each with its provider', async () => {
    const { body: a } = await adminJson<{ attempts: Attempt[] }>(`/v1/admin/attempts?appId=${checkout.id}`);
    expect(a.attempts).toHaveLength(1);
    expect(a.attempts[0]).toMatchObject({ appId: checkout.id, provider: 'sandbox' });
    expect(made.get(checkout.id)).toContain(a.attempts[0]!.requestId);
    const { body: b } = await adminJson<{ attempts: Attempt[] }>(`/v1/admin/attempts?appId=${support.id}&format=json`);
    expect(b.attempts.map((attempt) => attempt.provider).sort()).toEqual(['sandbox', 'test_number']);
    expect(b.attempts.every((attempt) => made.get(support.id)!.includes(attempt.requestId))).toBe(true);
    const csv = await (await adminFetch(`/v1/admin/attempts?appId=${checkout.id}&format=csv`)).text();
    expect(csv.trim().split('\r\n')).toHaveLength(2);
  });

  it.each([
    ['/v1/admin/requests?appId=', 'nope'],
    ['/v1/admin/requests?format=csv&appId=', 'app_'],
    ['/v1/admin/attempts?appId=', 'app_has space'],
    ['/v1/admin/stats?appId=', 'APP_upper'],
    ['/v1/admin/stats?since=first&appId=', `app_${'x'.repeat(41)}`],
  ])('%s%s is a 400', async (path, value) => {
    const { status, body } = await adminJson<{ error: { code: string; message: string } }>(`${path}${encodeURIComponent(value)}`);
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toMatch(/^appId: /);
  });

  it('a bad appId in a resend filter is a 400', async () => {
    const body = { filter: { status: 'failed', since: '2001-01-01T00:00:00Z', appId: 'checkout' }, dryRun: true };
    const answer = await adminJson<{ error: { code: string; message: string } }>('/v1/admin/resends', { method: 'POST', body: JSON.stringify(body) });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/^filter\.appId: /) });
  });
});

describe('statistics by app', () => {
  const { since, until } = privateWindow();
  const at = (minutes: number) => since + minutes * 60_000;
  const query = (extra: string) => adminJson<Stats>(`/v1/admin/stats?since=${since}&until=${until}${extra}`);

  beforeAll(async () => {
    const phone = () => uniquePhone();
    const a1 = await insertRequestRow({ phoneNumber: phone(), createdAt: at(1), status: 'verified', sentAt: at(1), verifiedAt: at(2), appId: checkout.id });
    const a2 = await insertRequestRow({ phoneNumber: phone(), createdAt: at(3), status: 'failed', lastErrorCode: 'provider_unavailable', appId: checkout.id });
    await insertRequestRow({ phoneNumber: phone(), createdAt: at(4), status: 'sent', sentAt: at(4), appId: checkout.id });
    const b1 = await insertRequestRow({
      phoneNumber: phone(),
      createdAt: at(30),
      status: 'failed',
      sentAt: at(30),
      deliveryStatus: 'failed',
      appId: support.id,
    });
    await insertRequestRow({ phoneNumber: phone(), createdAt: at(31), status: 'sent', sentAt: at(31), appId: support.id });
    await insertRequestRow({ phoneNumber: phone(), createdAt: at(5), status: 'expired', appId: null });
    await insertAttemptRow({ requestId: a1.id, attemptNumber: 1, startedAt: at(1), durationMs: 5, outcome: 'sent', provider: 'sandbox' });
    for (const n of [1, 2]) {
      await insertAttemptRow({ requestId: a2.id, attemptNumber: n, startedAt: at(3), durationMs: 5, outcome: 'retry', errorCode: 'provider_unavailable' });
    }
    await insertAttemptRow({ requestId: b1.id, attemptNumber: 1, startedAt: at(30), durationMs: 5, outcome: 'sent' });
    await env.DB.prepare(
      `INSERT INTO status_checks (request_id, check_number, checked_at, duration_ms, outcome, error_code) VALUES (?1, 1, ?2, 9, 'failed', 'provider_delivery_failed')`,
    )
      .bind(b1.id, at(40))
      .run();
  });

  it('byApp counts each app’s requests, sent, verified and failed, with its conversion; requests from before apps have a row of their own', async () => {
    const { status, body } = await query('');
    expect(status).toBe(200);
    expect(body.appId).toBeNull();
    expect(body.byApp).toEqual([
      { appId: checkout.id, name: 'Checkout', requests: 3, sent: 2, verified: 1, failed: 1, conversion: 0.5 },
      { appId: support.id, name: 'Support', requests: 2, sent: 2, verified: 0, failed: 1, conversion: 0 },
      { appId: null, name: null, requests: 1, sent: 0, verified: 0, failed: 0, conversion: null },
    ]);
    expect(body.requests.total).toBe(6);
    expect(body.requests.byStatus).toEqual({ verified: 1, failed: 2, sent: 2, expired: 1 });
  });

  it('appId keeps every figure to that app: requests, attempts, errors, series, byApp and what is in flight now', async () => {
    const { body: a } = await query(`&appId=${checkout.id}`);
    expect(a.appId).toBe(checkout.id);
    expect(a.requests.total).toBe(3);
    expect(a.requests.byStatus).toEqual({ verified: 1, failed: 1, sent: 1 });
    expect(a.attempts.total).toBe(3);
    expect(a.topErrors).toEqual([{ source: 'attempt', code: 'provider_unavailable', count: 2 }]);
    expect(a.series.reduce((sum, point) => sum + point.requests, 0)).toBe(3);
    expect(a.byApp.map((app) => app.appId)).toEqual([checkout.id]);
    // Of the requests made through the API at the start, one of each app is still queued.
    expect((await query('')).body.inFlight.queued).toBe(2);
    expect(a.inFlight.queued).toBe(1);

    const { body: b } = await query(`&appId=${support.id}`);
    expect([b.requests.total, b.attempts.total]).toEqual([2, 1]);
    expect(b.topErrors).toEqual([{ source: 'status_check', code: 'provider_delivery_failed', count: 1 }]);
    expect(b.inFlight.queued).toBe(1);
  });

  it('since=first starts at that app’s first request', async () => {
    const { body } = await adminJson<Stats>(`/v1/admin/stats?since=first&until=${until}&appId=${support.id}`);
    expect(body.since).toBe(new Date(at(30)).toISOString());
    expect(body.requests.total).toBe(2);
  });
});
