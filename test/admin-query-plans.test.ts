import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { pageOfMatches } from '../src/db/resend-matches';
import { adminFetch, adminJson } from './support/admin';
import { insertAttemptRow, insertRequestRow } from './support/audit-seed';
import { queryPlan, recordingDb, tableScans } from './support/query-plans';

/**
 * The admin API promises index reads, not table scans: this records every SELECT the admin
 * routes send to D1 and asks SQLite how it would run each one.
 */
const APP = 'app_planscheck';

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
      `/v1/admin/requests?appId=${APP}&status=failed&since=${since}&format=csv`,
      `/v1/admin/requests/${r.id}`,
      '/v1/admin/attempts',
      '/v1/admin/attempts?phoneNumber=%2B919800011111',
      `/v1/admin/attempts?requestId=${r.id}`,
      '/v1/admin/attempts?outcome=retry',
      '/v1/admin/attempts?errorCode=provider_unavailable',
      `/v1/admin/attempts?since=${since}&format=csv`,
      `/v1/admin/attempts?appId=${APP}`,
      `/v1/admin/attempts?appId=${APP}&outcome=retry&phoneNumber=%2B919800011111`,
      '/v1/admin/stats',
      '/v1/admin/stats?since=first',
      `/v1/admin/stats?since=first&appId=${APP}`,
    ];
    for (const path of paths) expect((await adminFetch(path, {}, testEnv)).status, path).toBe(200);
    const dry = await adminFetch(
      '/v1/admin/resends',
      { method: 'POST', body: JSON.stringify({ filter: { status: ['failed', 'expired'], since }, dryRun: true }) },
      testEnv,
    );
    expect(dry.status).toBe(200);
    const dryForApp = await adminFetch(
      '/v1/admin/resends',
      { method: 'POST', body: JSON.stringify({ filter: { status: ['failed', 'expired'], since, appId: APP }, dryRun: true }) },
      testEnv,
    );
    expect(dryForApp.status).toBe(200);
    for (const appId of [undefined, APP]) {
      await pageOfMatches(db, {
        resendId: 'rsd_AAAAAAAAAAAAAAAAAAAAAA',
        filter: { statuses: ['failed'], since: now - 3_600_000, until: now, ...(appId ? { appId } : {}) },
        cursor: null,
        limit: 100,
        now,
      });
    }

    const selects = statements.filter((statement) => /^\s*(SELECT|WITH)/i.test(statement.sql));
    expect(selects.length).toBeGreaterThan(20);
    for (const { sql, args } of selects) expect(await tableScans(sql, args), sql).toEqual([]);
  });

  it('one app’s requests are a range of otp_requests_app_created_id, on every page', async () => {
    const now = Date.now();
    for (let i = 0; i < 3; i += 1) await insertRequestRow({ phoneNumber: '+919800011112', createdAt: now - 1000 + i, status: 'failed', appId: APP });
    const { db, statements } = recordingDb();
    const testEnv = { ...env, DB: db } as Env;
    const first = await adminJson<{ requests: unknown[]; nextCursor: string }>(`/v1/admin/requests?appId=${APP}&limit=2`, {}, testEnv);
    expect(first.body.requests).toHaveLength(2);
    const since = new Date(now - 3_600_000).toISOString();
    const next = `/v1/admin/requests?appId=${APP}&limit=2&since=${since}&cursor=${first.body.nextCursor}`;
    expect((await adminFetch(next, {}, testEnv)).status).toBe(200);
    const listings = statements.filter((statement) => /^SELECT \* FROM otp_requests\b/.test(statement.sql) && statement.args.includes(APP));
    expect(listings).toHaveLength(2);
    for (const { sql, args } of listings) {
      expect(await queryPlan(sql, args), sql).toEqual([expect.stringMatching(/^SEARCH otp_requests USING INDEX otp_requests_app_created_id \(app_id=\?/)]);
    }
  });

  it('a resend finds what it already made for an app and phone in otp_requests_resend_app_phone', async () => {
    const now = Date.now();
    const { db, statements } = recordingDb();
    await pageOfMatches(db, {
      resendId: 'rsd_AAAAAAAAAAAAAAAAAAAAAA',
      filter: { statuses: ['failed'], since: now - 3_600_000, until: now },
      cursor: null,
      limit: 100,
      now,
    });
    const [{ sql, args }] = statements as [{ sql: string; args: unknown[] }];
    const plan = await queryPlan(sql, args);
    expect(plan).toContainEqual(expect.stringMatching(/USING COVERING INDEX otp_requests_resend_app_phone \(resend_id=\? AND <expr>=\? AND phone_number=\?\)/));
  });
});
