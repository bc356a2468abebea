import { describe, expect, it } from 'vitest';
import { adminFetch } from './support/admin';
import { alertEnv, runAlertsAt } from './support/alerts';
import { queryPlan, recordingDb } from './support/query-plans';

/** Every table the alert rules and the listing read; a plan line that walks one of them whole is a scan. */
const SCANNED = /^SCAN (delivery_attempts|dead_letters|prefix_blocks|alert_incidents|alert_signals|otp_requests|provider_events)\b(?!.*USING)/;

describe('alert queries read through indexes', () => {
  it('the every-minute rules, the notice claim and GET /v1/admin/alerts never scan a table', async () => {
    const { db, statements } = recordingDb();
    const testEnv = { ...alertEnv({ ALERT_WEBHOOK_URL: '' }), DB: db } as Env;
    await runAlertsAt(testEnv, Date.now());
    expect((await adminFetch('/v1/admin/alerts', {}, testEnv)).status).toBe(200);
    const selects = statements.filter((statement) => /^\s*(SELECT|UPDATE)/i.test(statement.sql) && !/sqlite_master/.test(statement.sql));
    expect(selects.length).toBeGreaterThanOrEqual(6);
    for (const { sql, args } of selects) {
      const scans = (await queryPlan(sql, args)).filter((detail) => SCANNED.test(detail));
      expect(scans, sql).toEqual([]);
    }
  });
});
