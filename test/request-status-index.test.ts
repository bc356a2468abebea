import { describe, expect, it } from 'vitest';
import { listRequests } from '../src/db/audit-queries';
import type { RequestStatus } from '../src/db/requests';
import { adminJson } from './support/admin';
import { insertRequestRow, privateWindow } from './support/audit-seed';
import { uniquePhone } from './support/fixtures';
import { queryPlan, recordingDb } from './support/query-plans';

/**
 * The status index holds only `failed` and `expired` requests (migration 0015): the operators'
 * listing by status still answers every status, page after page, and the rare ones are a range of
 * that index, not a walk through every request.
 */
type Listing = { requests: Array<{ requestId: string; status: string }>; nextCursor: string | null };

async function everyPage(query: Record<string, string>) {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 20; page += 1) {
    const { status, body }: { status: number; body: Listing } = await adminJson<Listing>(
      `/v1/admin/requests?${new URLSearchParams(cursor ? { ...query, limit: '2', cursor } : { ...query, limit: '2' })}`,
    );
    expect(status).toBe(200);
    ids.push(...body.requests.map((request) => request.requestId));
    cursor = body.nextCursor;
    if (!cursor) break;
  }
  return ids;
}

describe('listing requests by status', () => {
  it('answers rare statuses, common ones and a mix of both, newest first over pages', async () => {
    const { since } = privateWindow();
    const statuses: RequestStatus[] = ['failed', 'sent', 'expired', 'verified', 'failed', 'superseded', 'queued', 'expired', 'sent', 'failed'];
    const rows: Array<{ status: RequestStatus; id: string }> = [];
    for (const [i, status] of statuses.entries()) {
      rows.push({ status, ...(await insertRequestRow({ phoneNumber: uniquePhone(), createdAt: since + i * 1000, status })) });
    }
    const window = { since: new Date(since).toISOString(), until: new Date(since + 60_000).toISOString() };
    const expected = (...wanted: string[]) =>
      rows
        .filter((row) => wanted.includes(row.status))
        .map((row) => row.id)
        .reverse();
    for (const wanted of [['failed'], ['expired'], ['failed', 'expired'], ['sent'], ['verified', 'failed'], ['queued', 'superseded']]) {
      expect(await everyPage({ ...window, status: wanted.join(',') }), wanted.join(',')).toEqual(expected(...wanted));
    }
    // Without a time range too: the partial index holds them all.
    const failedEver = await everyPage({ status: 'failed' });
    for (const id of expected('failed')) expect(failedEver).toContain(id);
  });

  it('failed and expired requests are a range of otp_requests_unsuccessful_created_id; other statuses walk the time index', async () => {
    const { db, statements } = recordingDb();
    const plans = new Map<string, string[]>();
    for (const wanted of [['failed'], ['expired'], ['expired', 'failed'], ['sent'], ['failed', 'verified']] as RequestStatus[][]) {
      statements.splice(0);
      await listRequests(db, { statuses: wanted }, { after: { at: Date.now(), id: 'otp_zzzzzzzzzzzzzzzzzzzzzz' }, limit: 50 });
      const [{ sql, args }] = statements as [{ sql: string; args: unknown[] }];
      plans.set(wanted.join(','), await queryPlan(sql, args));
    }
    for (const rare of ['failed', 'expired', 'expired,failed']) {
      expect(plans.get(rare), rare).toContainEqual(expect.stringMatching(/^SEARCH otp_requests USING INDEX otp_requests_unsuccessful_created_id \(status=\?/));
    }
    for (const common of ['sent', 'failed,verified']) {
      expect(plans.get(common), common).toContainEqual(
        expect.stringMatching(/^SEARCH otp_requests USING INDEX otp_requests_created_id \(\(created_at,id\)<\(\?,\?\)\)$/),
      );
    }
    for (const plan of plans.values()) expect(plan).not.toContain('SCAN otp_requests');
  });
});
