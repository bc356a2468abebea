import { describe, expect, it } from 'vitest';
import { adminFetch, adminJson } from './support/admin';
import { insertAttemptRow, insertRequestRow, privateWindow } from './support/audit-seed';
import { uniquePhone } from './support/fixtures';

interface AttemptItem {
  attemptId: number;
  requestId: string;
  phoneNumber: string;
  outcome: string;
  errorCode: string | null;
  startedAt: string;
}
type Listing = { attempts: AttemptItem[]; nextCursor: string | null };
const list = (query: Record<string, string>) => adminJson<Listing>(`/v1/admin/attempts?${new URLSearchParams(query)}`);

describe('GET /v1/admin/attempts', () => {
  it('filters by phone, request, outcome, error code and time, newest first', async () => {
    const { since } = privateWindow();
    const phone = uniquePhone();
    const r1 = await insertRequestRow({ phoneNumber: phone, createdAt: since });
    const r2 = await insertRequestRow({ phoneNumber: uniquePhone(), createdAt: since });
    await insertAttemptRow({ requestId: r1.id, attemptNumber: 1, startedAt: since + 100, durationMs: 50, outcome: 'retry', errorCode: 'provider_unavailable' });
    await insertAttemptRow({ requestId: r1.id, attemptNumber: 2, startedAt: since + 200, durationMs: 50, outcome: 'sent' });
    await insertAttemptRow({
      requestId: r2.id,
      attemptNumber: 1,
      startedAt: since + 300,
      durationMs: 50,
      outcome: 'failed',
      errorCode: 'provider_rejected_request',
    });
    const window = { since: String(since), until: String(since + 1000) };
    const shape = (body: Listing) => body.attempts.map((a) => `${a.requestId === r1.id ? 'r1' : 'r2'}:${a.outcome}`);

    expect(shape((await list(window)).body)).toEqual(['r2:failed', 'r1:sent', 'r1:retry']);
    expect(shape((await list({ ...window, phoneNumber: phone })).body)).toEqual(['r1:sent', 'r1:retry']);
    expect(shape((await list({ ...window, requestId: r2.id })).body)).toEqual(['r2:failed']);
    expect(shape((await list({ ...window, outcome: 'retry,failed' })).body)).toEqual(['r2:failed', 'r1:retry']);
    expect(shape((await list({ ...window, errorCode: 'provider_unavailable' })).body)).toEqual(['r1:retry']);
    expect(shape((await list({ since: String(since + 150), until: String(since + 250) })).body)).toEqual(['r1:sent']);
    expect((await list({ ...window, phoneNumber: phone })).body.attempts[0]!.phoneNumber).toBe(phone);
  });

  it('pages with a keyset cursor that stays stable while attempts are added', async () => {
    const phone = uniquePhone();
    const r = await insertRequestRow({ phoneNumber: phone, createdAt: Date.now() - 100_000 });
    const base = Date.now() - 50_000;
    for (let i = 1; i <= 9; i += 1)
      await insertAttemptRow({ requestId: r.id, attemptNumber: i, startedAt: base + Math.floor(i / 2) * 10, durationMs: 10, outcome: 'retry' });
    const seen: number[] = [];
    let cursor: string | null = null;
    let next = 100;
    do {
      const { body } = await list({ phoneNumber: phone, limit: '2', ...(cursor ? { cursor } : {}) });
      seen.push(...body.attempts.map((a) => a.attemptId));
      cursor = body.nextCursor;
      await insertAttemptRow({ requestId: r.id, attemptNumber: next++, startedAt: Date.now(), durationMs: 1, outcome: 'sent' });
    } while (cursor);
    expect(seen).toHaveLength(9);
    expect(new Set(seen).size).toBe(9);
  });

  it('attempts started in the same millisecond have ids of their own, in order, and page across that millisecond', async () => {
    const { since } = privateWindow();
    const r = await insertRequestRow({ phoneNumber: uniquePhone(), createdAt: since });
    for (let i = 1; i <= 3; i += 1) await insertAttemptRow({ requestId: r.id, attemptNumber: i, startedAt: since + 5, durationMs: 1, outcome: 'retry' });
    const window = { requestId: r.id, since: String(since), until: String(since + 1000), limit: '2' };
    const first = await list(window);
    expect(first.body.nextCursor).not.toBeNull();
    const second = await list({ ...window, cursor: first.body.nextCursor! });
    expect(second.body.nextCursor).toBeNull();
    const ids = [...first.body.attempts, ...second.body.attempts].map((a) => a.attemptId);
    // Newest first: the last recorded of the millisecond has the highest id.
    expect(ids).toEqual([(since + 5) * 1024 + 2, (since + 5) * 1024 + 1, (since + 5) * 1024]);
  });

  it('exports CSV', async () => {
    const { since } = privateWindow();
    const r = await insertRequestRow({ phoneNumber: uniquePhone(), createdAt: since });
    await insertAttemptRow({
      requestId: r.id,
      attemptNumber: 1,
      startedAt: since + 1,
      durationMs: 42,
      outcome: 'failed',
      httpStatus: 400,
      errorCode: 'provider_rejected_request',
      errorMessage: 'bad "number", sorry',
    });
    const response = await adminFetch(`/v1/admin/attempts?since=${since}&until=${since + 1000}&format=csv`);
    const lines = (await response.text()).trimEnd().split('\r\n');
    expect(lines[0]!.split(',')).toEqual([
      'attemptId',
      'startedAt',
      'requestId',
      'appId',
      'phoneNumber',
      'origin',
      'provider',
      'attemptNumber',
      'outcome',
      'provider',
      'channel',
      'ambiguous',
      'httpStatus',
      'durationMs',
      'errorCode',
      'errorMessage',
      'retryDelaySeconds',
      'providerMessageId',
    ]);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`,${r.id},`);
    expect(lines[1]).toContain(',failed,,sms,false,400,42,provider_rejected_request,"bad ""number"", sorry",,');
  });
});
