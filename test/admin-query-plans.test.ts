import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { pageOfMatches } from '../src/db/resend-matches';
import { adminFetch } from './support/admin';
import { insertAttemptRow, insertRequestRow } from './support/audit-seed';
import { recordingDb, tableScans } from './support/query-plans';

/**
 * The admin API promises index reads, not table scans: this records every SELECT the admin
 * routes send to D1 and asks SQLite how it would run each one.
 */
describe('admin queries read through indexes', () => {
  it('the check itself recognises a table scan', async () => {
    expect(await tableScans('SELECT * FROM otp_requests WHERE last_error_message = ?1', ['x'])).toEqual(['SCAN otp_requests']);
  });

  it('listings, a request’s history, stats and resend matching never scan a table', async () => {
    const now = Date.now();
    const r = await insertRequestRow({ phoneNumber: '+919800011111', createdAt: now - 1000, status: 'failed', lastErrorCode: 'provider_unavailable' });
    await insertAttemptRow({ requestId: r.id, attemptNumber: 1, startedAt: now - 900, durationMs: 10, outcome: 'retry', errorCode: 'provider_unavailable' });
    const { db, statements } = recordingDb();
    const testEnv = { ...env, DB: db } as Env;
    const since = new Date(now - 3_600_000).toISOString();
    const paths = [
      '/v1/admin/requests',
      `/v1/admin/requests?since=${since}`,
      '/v1/admin/requests?phoneNumber=%2B919800011111',
      `/v1/admin/requests?status=failed,expired&since=${since}`,
      '/v1/admin/requests?errorCode=provider_unavailable',
      '/v1/admin/requests?origin=operator_resend',
      '/v1/admin/requests?resendId=rsd_AAAAAAAAAAAAAAAAAAAAAA',
      `/v1/admin/requests/${r.id}`,
      '/v1/admin/attempts',
      '/v1/admin/attempts?phoneNumber=%2B919800011111',
      `/v1/admin/attempts?requestId=${r.id}`,
      '/v1/admin/attempts?outcome=retry',
      '/v1/admin/attempts?errorCode=provider_unavailable',
      `/v1/admin/attempts?since=${since}&format=csv`,
      '/v1/admin/stats',
      '/v1/admin/stats?since=first',
    ];
    for (const path of paths) expect((await adminFetch(path, {}, testEnv)).status, path).toBe(200);
    const dry = await adminFetch(
      '/v1/admin/resends',
      { method: 'POST', body: JSON.stringify({ filter: { status: ['failed', 'expired'], since }, dryRun: true }) },
      testEnv,
    );
    expect(dry.status).toBe(200);
    await pageOfMatches(db, {
      resendId: 'rsd_AAAAAAAAAAAAAAAAAAAAAA',
      filter: { statuses: ['failed'], since: now - 3_600_000, until: now },
      cursor: null,
      limit: 100,
      now,
    });

    const selects = statements.filter((statement) => /^\s*(SELECT|WITH)/i.test(statement.sql));
    expect(selects.length).toBeGreaterThan(20);
    for (const { sql, args } of selects) expect(await tableScans(sql, args), sql).toEqual([]);
  });
});
