import { describe, expect, it } from 'vitest';
import { adminFetch, adminJson } from './support/admin';
import { TEST_APP } from './support/apps';
import { insertAttemptRow, insertRequestRow, privateWindow } from './support/audit-seed';
import { uniquePhone } from './support/fixtures';

interface RequestItem {
  requestId: string;
  status: string;
  phoneNumber: string;
  createdAt: string;
  origin: string;
  lastError: { code: string } | null;
}
type Listing = { requests: RequestItem[]; nextCursor: string | null };
type ErrorBody = { error: { code: string; message: string } };

const iso = (ms: number) => new Date(ms).toISOString();
const list = (query: Record<string, string>) => adminJson<Listing>(`/v1/admin/requests?${new URLSearchParams(query)}`);

async function allPages(query: Record<string, string>, between?: () => Promise<void>) {
  const seen: RequestItem[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const { status, body } = await list({ ...query, ...(cursor ? { cursor } : {}) });
    expect(status).toBe(200);
    seen.push(...body.requests);
    cursor = body.nextCursor;
    pages += 1;
    if (between) await between();
  } while (cursor && pages < 50);
  return { seen, pages };
}

describe('GET /v1/admin/requests: filters', () => {
  it('filters by phone, status (one or several), error code, origin and time range', async () => {
    const { since } = privateWindow();
    const phone = uniquePhone();
    const other = uniquePhone();
    const a = await insertRequestRow({ phoneNumber: phone, createdAt: since + 1000, status: 'failed', lastErrorCode: 'provider_unavailable' });
    const b = await insertRequestRow({ phoneNumber: phone, createdAt: since + 2000, status: 'expired', lastErrorCode: 'expired_before_delivery' });
    const c = await insertRequestRow({ phoneNumber: other, createdAt: since + 3000, status: 'sent', origin: 'operator_resend' });
    await insertRequestRow({ phoneNumber: other, createdAt: since + 90_000_000, status: 'failed' });
    const window = { since: iso(since), until: iso(since + 10_000) };

    const ids = (body: Listing) => body.requests.map((r) => r.requestId);
    expect(ids((await list({ ...window })).body)).toEqual([c.id, b.id, a.id]);
    expect(ids((await list({ ...window, phoneNumber: phone })).body)).toEqual([b.id, a.id]);
    expect(ids((await list({ ...window, status: 'failed' })).body)).toEqual([a.id]);
    expect(ids((await list({ ...window, status: 'failed,expired' })).body)).toEqual([b.id, a.id]);
    expect(ids((await list({ ...window, errorCode: 'expired_before_delivery' })).body)).toEqual([b.id]);
    expect(ids((await list({ ...window, origin: 'operator_resend' })).body)).toEqual([c.id]);
    expect(ids((await list({ since: String(since + 1500), until: String(since + 2500) })).body)).toEqual([b.id]);
    // A + in the query string that was not encoded arrives as a space; it still means the phone.
    const raw = await adminJson<Listing>(`/v1/admin/requests?phoneNumber=${phone}&since=${since}&until=${since + 10_000}`);
    expect(ids(raw.body)).toEqual([b.id, a.id]);

    const item = (await list({ ...window, phoneNumber: phone, status: 'failed' })).body.requests[0]!;
    expect(item).toMatchObject({ phoneNumber: phone, status: 'failed', origin: 'api', lastError: { code: 'provider_unavailable' } });
  });

  it.each([
    ['a bad status', { status: 'lost' }],
    ['an empty status list', { status: ',' }],
    ['a bad time', { since: 'yesterday' }],
    ['a bad phone number', { phoneNumber: '12345' }],
    ['a limit over 500', { limit: '501' }],
    ['a limit of 0', { limit: '0' }],
    ['a garbage cursor', { cursor: 'not-a-cursor' }],
    ['an unknown format', { format: 'xml' }],
  ])('%s is a 400 in the error shape', async (_name, query) => {
    const { status, body } = await adminJson<ErrorBody>(`/v1/admin/requests?${new URLSearchParams(query as Record<string, string>)}`);
    expect(status).toBe(400);
    expect(['invalid_request', 'invalid_phone_number']).toContain(body.error.code);
  });

  it('a cursor issued by the attempts listing is refused by the requests listing', async () => {
    const { since } = privateWindow();
    const r = await insertRequestRow({ phoneNumber: uniquePhone(), createdAt: since + 10 });
    await insertAttemptRow({ requestId: r.id, attemptNumber: 1, startedAt: since + 20, durationMs: 5, outcome: 'retry' });
    await insertAttemptRow({ requestId: r.id, attemptNumber: 2, startedAt: since + 30, durationMs: 5, outcome: 'sent' });
    const attempts = await adminJson<{ nextCursor: string }>(`/v1/admin/attempts?requestId=${r.id}&limit=1`);
    expect(attempts.body.nextCursor).toEqual(expect.any(String));
    const { status } = await list({ cursor: attempts.body.nextCursor });
    expect(status).toBe(400);
  });
});

describe('GET /v1/admin/requests: keyset pagination', () => {
  it('walks every row exactly once, newest first, including rows sharing a timestamp', async () => {
    const { since } = privateWindow();
    const phone = uniquePhone();
    const seeded = [];
    for (let i = 0; i < 23; i += 1) seeded.push(await insertRequestRow({ phoneNumber: phone, createdAt: since + Math.floor(i / 3) * 1000 }));
    const { seen, pages } = await allPages({ phoneNumber: phone, limit: '5' });
    expect(pages).toBe(5);
    expect(seen.map((r) => r.requestId).sort()).toEqual(seeded.map((r) => r.id).sort());
    expect(new Set(seen.map((r) => r.requestId)).size).toBe(23);
    const times = seen.map((r) => Date.parse(r.createdAt));
    expect(times).toEqual([...times].sort((x, y) => y - x));
  });

  it('is stable under inserts between pages: no row skipped, none repeated, new rows stay off later pages', async () => {
    const phone = uniquePhone();
    const start = Date.now() - 60_000;
    const seeded = [];
    for (let i = 0; i < 12; i += 1) seeded.push(await insertRequestRow({ phoneNumber: phone, createdAt: start + i * 100 }));
    const inserted: string[] = [];
    const { seen } = await allPages({ phoneNumber: phone, limit: '4' }, async () => {
      // Traffic keeps arriving while the operator pages: always newer than anything already listed.
      for (let i = 0; i < 3; i += 1) inserted.push((await insertRequestRow({ phoneNumber: phone, createdAt: Date.now() + inserted.length })).id);
    });
    const ids = seen.map((r) => r.requestId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(seeded.map((r) => r.id).reverse());
    expect(ids.some((id) => inserted.includes(id))).toBe(false);
    // A fresh first page shows the newcomers.
    expect((await list({ phoneNumber: phone, limit: '3' })).body.requests.map((r) => r.requestId)).toEqual(inserted.slice(-3).reverse());
  });

  it('the last page says so with a null cursor', async () => {
    const phone = uniquePhone();
    await insertRequestRow({ phoneNumber: phone, createdAt: Date.now() - 5000 });
    await insertRequestRow({ phoneNumber: phone, createdAt: Date.now() - 4000 });
    const exact = await list({ phoneNumber: phone, limit: '2' });
    expect(exact.body.requests).toHaveLength(2);
    expect(exact.body.nextCursor).toBeNull();
  });
});

describe('GET /v1/admin/requests?format=csv', () => {
  it('exports the same query as CSV with a header row, quoting and a formula guard', async () => {
    const { since } = privateWindow();
    const phone = uniquePhone();
    const a = await insertRequestRow({ phoneNumber: phone, createdAt: since + 1000, status: 'failed', lastErrorCode: 'provider_unavailable' });
    const b = await insertRequestRow({ phoneNumber: phone, createdAt: since + 2000, status: 'sent' });
    const query = new URLSearchParams({ phoneNumber: phone, since: String(since), until: String(since + 5000), format: 'csv' });
    const response = await adminFetch(`/v1/admin/requests?${query}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('Content-Type')).toContain('text/csv');
    expect(response.headers.get('Content-Disposition')).toMatch(/^attachment; filename="requests-.*\.csv"$/);
    expect(response.headers.get('X-Next-Cursor')).toBeNull();
    const lines = (await response.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'requestId,createdAt,appId,testNumber,status,effectiveStatus,origin,phoneNumber,attempts,sentAt,deliveryStatus,deliveredAt,verifiedAt,lastErrorCode,lastErrorMessage,replacesRequestId,resendId',
    );
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain(`${b.id},${new Date(since + 2000).toISOString()},${TEST_APP.id},false,sent,`);
    // A leading + would make a spreadsheet evaluate the cell; the apostrophe keeps it text.
    expect(lines[1]).toContain(`,'${phone},`);
    expect(lines[2]).toContain(`${a.id},`);
    expect(lines[2]).toContain(',provider_unavailable,provider_unavailable happened,');

    const json = await list({ phoneNumber: phone, since: String(since), until: String(since + 5000) });
    expect(json.body.requests.map((r) => r.requestId)).toEqual([b.id, a.id]);
  });

  it('a CSV page larger than the JSON cap is allowed, and a bounded one hands on its cursor', async () => {
    const phone = uniquePhone();
    for (let i = 0; i < 3; i += 1) await insertRequestRow({ phoneNumber: phone, createdAt: Date.now() - 10_000 + i });
    const bounded = await adminFetch(`/v1/admin/requests?${new URLSearchParams({ phoneNumber: phone, format: 'csv', limit: '2' })}`);
    expect((await bounded.text()).trimEnd().split('\r\n')).toHaveLength(3);
    const cursor = bounded.headers.get('X-Next-Cursor')!;
    expect(cursor).toEqual(expect.any(String));
    expect((await list({ phoneNumber: phone, cursor })).body.requests).toHaveLength(1);
    expect((await adminFetch(`/v1/admin/requests?format=csv&limit=5000&phoneNumber=${encodeURIComponent(phone)}`)).status).toBe(200);
  });
});

describe('GET /v1/admin/requests/:id', () => {
  it('answers the request with every attempt, in order, and a timeline', async () => {
    const phone = uniquePhone();
    const now = Date.now() - 30_000;
    const r = await insertRequestRow({ phoneNumber: phone, createdAt: now, status: 'failed', attempts: 2, lastErrorCode: 'provider_rejected_request' });
    await insertAttemptRow({
      requestId: r.id,
      attemptNumber: 1,
      startedAt: now + 100,
      durationMs: 120,
      outcome: 'retry',
      httpStatus: 503,
      errorCode: 'provider_unavailable',
    });
    await insertAttemptRow({
      requestId: r.id,
      attemptNumber: 2,
      startedAt: now + 5000,
      durationMs: 80,
      outcome: 'failed',
      httpStatus: 400,
      errorCode: 'provider_rejected_request',
    });
    const { status, body } = await adminJson<{
      request: { requestId: string; phoneNumber: string; status: string };
      attempts: Array<{ attemptNumber: number; outcome: string; httpStatus: number; durationMs: number }>;
      timeline: Array<{ event: string; detail: string }>;
    }>(`/v1/admin/requests/${r.id}`);
    expect(status).toBe(200);
    expect(body.request).toMatchObject({ requestId: r.id, phoneNumber: phone, status: 'failed' });
    expect(body.attempts.map((a) => [a.attemptNumber, a.outcome, a.httpStatus, a.durationMs])).toEqual([
      [1, 'retry', 503, 120],
      [2, 'failed', 400, 80],
    ]);
    expect(body.timeline.map((e) => e.event)).toEqual(['created', 'enqueued', 'attempt', 'attempt', 'failed']);
    expect(body.timeline[2]!.detail).toContain('HTTP 503');
  });

  it('an unknown id is a 404, a malformed one a 400', async () => {
    expect((await adminFetch('/v1/admin/requests/otp_AAAAAAAAAAAAAAAAAAAAAA')).status).toBe(404);
    expect((await adminFetch('/v1/admin/requests/nope')).status).toBe(400);
  });
});
