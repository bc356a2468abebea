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

async function seedAt0014() {
  const t = 1_790_000_000_000;
  const rows: unknown[][] = [
    [
      'otp_verified',
      '+919800000001',
      '+91980',
      'verified',
      'api',
      null,
      t,
      t + 9,
      t + 300_000,
      1,
      null,
      t,
      t + 5,
      'm-1',
      null,
      null,
      1,
      t + 9,
      'delivered',
      t + 7,
      1,
      null,
      'app_one',
      6,
      0,
      'sms',
      'startmessaging',
      'sms',
      null,
    ],
    [
      'otp_failed',
      '+919800000002',
      '+91980',
      'failed',
      'api',
      null,
      t + 1,
      t + 8,
      t + 300_001,
      3,
      null,
      t + 1,
      null,
      null,
      'retries_exhausted',
      'gave up',
      0,
      null,
      null,
      null,
      0,
      null,
      'app_one',
      6,
      0,
      'auto',
      null,
      null,
      t + 4,
    ],
    [
      'otp_queued',
      '+449800000003',
      '+44980',
      'queued',
      'api',
      null,
      t + 2,
      t + 2,
      t + 300_002,
      0,
      null,
      null,
      null,
      null,
      null,
      null,
      0,
      null,
      null,
      null,
      0,
      null,
      null,
      null,
      0,
      'sms',
      null,
      null,
      null,
    ],
    [
      'otp_resent',
      '+919800000002',
      '+91980',
      'sending',
      'operator_resend',
      'otp_failed',
      t + 3,
      t + 3,
      t + 300_003,
      1,
      t + 30_003,
      t + 3,
      null,
      null,
      null,
      null,
      0,
      null,
      null,
      null,
      0,
      'rsd_one',
      'app_one',
      6,
      0,
      'whatsapp',
      null,
      null,
      null,
    ],
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
