import { applyD1Migrations, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { newAttemptIdSql } from '../src/db/delivery-attempts';

/**
 * Migration 0015 rebuilds otp_requests (WITHOUT ROWID, other indexes): on a database at 0014 with
 * rows in it, every row, every column and every reference to a request survives, and the table has
 * exactly the indexes it should.
 */
const db = () => env.MIGRATION_DB;
const upTo = (last: string) => env.TEST_MIGRATIONS.filter((migration) => migration.name.slice(0, 4) <= last);

const REQUEST_COLUMNS = `id, phone_number, phone_prefix, status, origin, replaces_request_id, created_at, updated_at, expires_at, attempts,
  lease_until, enqueued_at, sent_at, provider_message_id, last_error_code, last_error_message, verify_attempts, verified_at,
  delivery_status, delivered_at, delivery_checks, resend_id, app_id, code_length, test_number, channel, sent_provider, sent_channel, sms_fallback_at`;

/** A request row at 0014: every column, null or zero unless the row says otherwise. */
function requestRow(t: number, row: Record<string, unknown>): unknown[] {
  const defaults: Record<string, unknown> = {
    phone_prefix: '+91980',
    origin: 'api',
    attempts: 0,
    verify_attempts: 0,
    delivery_checks: 0,
    test_number: 0,
    channel: 'sms',
  };
  const offsets = new Set([
    'created_at',
    'updated_at',
    'expires_at',
    'lease_until',
    'enqueued_at',
    'sent_at',
    'verified_at',
    'delivered_at',
    'sms_fallback_at',
  ]);
  return REQUEST_COLUMNS.split(/,\s*/).map((column) => {
    const value = row[column] ?? defaults[column] ?? null;
    // Times are given as offsets from t.
    return offsets.has(column) && typeof value === 'number' ? t + value : value;
  });
}

async function seedAt0014() {
  const t = 1_790_000_000_000;
  const rows = [
    requestRow(t, {
      id: 'otp_verified',
      phone_number: '+919800000001',
      status: 'verified',
      created_at: 0,
      updated_at: 9,
      expires_at: 300_000,
      attempts: 1,
      enqueued_at: 0,
      sent_at: 5,
      provider_message_id: 'm-1',
      verify_attempts: 1,
      verified_at: 9,
      delivery_status: 'delivered',
      delivered_at: 7,
      delivery_checks: 1,
      app_id: 'app_one',
      code_length: 6,
      sent_provider: 'startmessaging',
      sent_channel: 'sms',
    }),
    requestRow(t, {
      id: 'otp_failed',
      phone_number: '+919800000002',
      status: 'failed',
      created_at: 1,
      updated_at: 8,
      expires_at: 300_001,
      attempts: 3,
      enqueued_at: 1,
      last_error_code: 'retries_exhausted',
      last_error_message: 'gave up',
      app_id: 'app_one',
      code_length: 6,
      channel: 'auto',
      sms_fallback_at: 4,
    }),
    requestRow(t, {
      id: 'otp_queued',
      phone_number: '+449800000003',
      phone_prefix: '+44980',
      status: 'queued',
      created_at: 2,
      updated_at: 2,
      expires_at: 300_002,
    }),
    requestRow(t, {
      id: 'otp_resent',
      phone_number: '+919800000002',
      status: 'sending',
      origin: 'operator_resend',
      replaces_request_id: 'otp_failed',
      created_at: 3,
      updated_at: 3,
      expires_at: 300_003,
      attempts: 1,
      lease_until: 30_003,
      enqueued_at: 3,
      resend_id: 'rsd_one',
      app_id: 'app_one',
      code_length: 6,
      channel: 'whatsapp',
    }),
  ];
  await db().batch(
    rows.map((row) =>
      db()
        .prepare(`INSERT INTO otp_requests (${REQUEST_COLUMNS}) VALUES (${row.map((_, i) => `?${i + 1}`).join(', ')})`)
        .bind(...row),
    ),
  );
  await db().batch([
    db().prepare(
      `INSERT INTO delivery_attempts (request_id, attempt_number, started_at, finished_at, duration_ms, outcome, provider, channel)
       VALUES ('otp_verified', 1, ${t + 4}, ${t + 5}, 1, 'sent', 'startmessaging', 'sms'),
              ('otp_failed', 1, ${t + 2}, ${t + 3}, 1, 'retry', 'startmessaging', 'sms')`,
    ),
    db().prepare(`INSERT INTO status_checks (request_id, check_number, checked_at, duration_ms, outcome) VALUES ('otp_verified', 1, ${t + 7}, 1, 'delivered')`),
  ]);
}

const all = async (sql: string) => (await db().prepare(sql).all()).results;

describe('migration 0015: otp_requests rebuilt', () => {
  it('keeps every row, column and reference, and holds exactly the indexes it should', async () => {
    await applyD1Migrations(db(), upTo('0014'));
    await seedAt0014();
    const requestsBefore = await all(`SELECT ${REQUEST_COLUMNS} FROM otp_requests ORDER BY id`);
    const attemptsBefore = await all('SELECT * FROM delivery_attempts ORDER BY id');
    const checksBefore = await all('SELECT * FROM status_checks ORDER BY id');
    expect(requestsBefore).toHaveLength(4);

    await applyD1Migrations(db(), env.TEST_MIGRATIONS);

    expect(await all(`SELECT ${REQUEST_COLUMNS} FROM otp_requests ORDER BY id`)).toEqual(requestsBefore);
    expect(await all('SELECT * FROM delivery_attempts ORDER BY id')).toEqual(attemptsBefore);
    expect(await all('SELECT * FROM status_checks ORDER BY id')).toEqual(checksBefore);
    expect(await all('PRAGMA foreign_key_check')).toEqual([]);
    // The old table's columns in the old order: `SELECT *` readers see the same rows.
    expect((await all('PRAGMA table_info(otp_requests)')).map((column) => (column as { name: string }).name).join(', ')).toBe(
      REQUEST_COLUMNS.replace(/\s+/g, ' '),
    );

    const table = (await db().prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'otp_requests'").first<{ sql: string }>())!.sql;
    expect(table).toMatch(/\) WITHOUT ROWID$/);
    const indexes = (await all("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'otp_requests' ORDER BY name")) as Array<{
      name: string;
      sql: string | null;
    }>;
    expect(
      Object.fromEntries(indexes.map((index) => [index.name, index.sql?.replace(/\s+/g, ' ').replace(/^CREATE (UNIQUE )?INDEX \S+ ON otp_requests /, '$1')])),
    ).toEqual({
      otp_requests_app_created_id: '(app_id, created_at, id) WHERE app_id IS NOT NULL',
      otp_requests_created_id: '(created_at, id)',
      otp_requests_error_created_id: '(last_error_code, created_at, id) WHERE last_error_code IS NOT NULL',
      otp_requests_operator_resend_created_id: "(created_at, id) WHERE origin = 'operator_resend'",
      otp_requests_phone_created_id: '(phone_number, created_at, id)',
      otp_requests_replaces: '(replaces_request_id) WHERE replaces_request_id IS NOT NULL',
      otp_requests_resend_app_phone: "UNIQUE (resend_id, COALESCE(app_id, ''), phone_number) WHERE resend_id IS NOT NULL",
      otp_requests_unsuccessful_created_id: "(status, created_at, id) WHERE status IN ('failed', 'expired')",
    });

    // The CHECKs and the uniqueness came along.
    await expect(db().prepare("UPDATE otp_requests SET status = 'lost' WHERE id = 'otp_queued'").run()).rejects.toThrow(/CHECK constraint failed/);
    await expect(
      db().prepare("UPDATE otp_requests SET resend_id = 'rsd_one', app_id = 'app_one', phone_number = '+919800000002' WHERE id = 'otp_verified'").run(),
    ).rejects.toThrow(/UNIQUE constraint failed/);
    // References to requests are still checked.
    await expect(
      db()
        .prepare(
          `INSERT INTO delivery_attempts (id, request_id, attempt_number, started_at, finished_at, duration_ms, outcome)
           VALUES (${newAttemptIdSql('1')}, 'otp_none', 1, 1, 1, 0, 'sent')`,
        )
        .run(),
    ).rejects.toThrow(/FOREIGN KEY constraint failed/);
  });
});
