import { applyD1Migrations, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { type AttemptRecord, recordAttemptStatements } from '../src/db/delivery-attempts';

/**
 * Migration 0016 rebuilds delivery_attempts as a WITHOUT ROWID table keyed by (request_id,
 * attempt_number), and inserts assign the id themselves: on a database at 0015 with attempts in
 * it, every row keeps its id and columns; afterwards an attempt writes 2 rows, not 3, ids stay
 * unique and ordered by start time, and an attempt recorded twice is written once.
 */
const db = () => env.MIGRATION_DB;
const upTo = (last: string) => env.TEST_MIGRATIONS.filter((migration) => migration.name.slice(0, 4) <= last);
const all = async (sql: string) => (await db().prepare(sql).all()).results;

const ATTEMPT_COLUMNS = `id, request_id, attempt_number, started_at, finished_at, duration_ms, outcome, http_status, provider_message_id,
  error_code, error_message, retry_delay_seconds, provider, channel, ambiguous`.replace(/\s+/g, ' ');
const T = 1_790_000_000_000;

async function seedRequests(...ids: string[]) {
  await db().batch(
    ids.map((id) =>
      db()
        .prepare(
          `INSERT INTO otp_requests (id, phone_number, phone_prefix, status, created_at, updated_at, expires_at)
           VALUES (?1, '+919800000001', '+91980', 'sending', ?2, ?2, ?2 + 300000)`,
        )
        .bind(id, T),
    ),
  );
}

function attempt(requestId: string, attemptNumber: number, startedAt: number, overrides: Partial<AttemptRecord> = {}): AttemptRecord {
  return {
    requestId,
    attemptNumber,
    startedAt,
    finishedAt: startedAt + 40,
    httpStatus: 503,
    decision: { action: 'retry', delaySeconds: 5, errorCode: 'provider_unavailable', message: 'down' },
    provider: 'startmessaging',
    channel: 'sms',
    ...overrides,
  };
}

/** Records one attempt as the consumer does; answers the rows its INSERT wrote. */
async function record(entry: AttemptRecord): Promise<number> {
  const [insert] = await db().batch(recordAttemptStatements(db(), entry));
  return insert!.meta.rows_written;
}

const idOf = async (requestId: string, attemptNumber: number) =>
  db().prepare('SELECT id FROM delivery_attempts WHERE request_id = ?1 AND attempt_number = ?2').bind(requestId, attemptNumber).first<number>('id');

describe('migration 0016: delivery_attempts without a rowid', () => {
  it('keeps every attempt with its id and columns, keyed by (request_id, attempt_number) with only the stats index', async () => {
    await applyD1Migrations(db(), upTo('0015'));
    await seedRequests('otp_old_a', 'otp_old_b');
    // Written as the code before 0016 wrote them (rowid ids), and one by the code since, which names its id.
    await db().batch([
      db().prepare(
        `INSERT INTO delivery_attempts (request_id, attempt_number, started_at, finished_at, duration_ms, outcome, http_status,
           provider_message_id, error_code, error_message, retry_delay_seconds, provider, channel, ambiguous)
         VALUES ('otp_old_a', 1, ${T}, ${T + 30}, 30, 'retry', 503, NULL, 'provider_unavailable', 'down', 4, 'twilio', 'whatsapp', 1),
                ('otp_old_b', 1, ${T + 5}, ${T + 9}, 4, 'sent', 201, 'm-1', NULL, NULL, NULL, NULL, NULL, 0)`,
      ),
    ]);
    expect(await record(attempt('otp_old_a', 2, T + 10))).toBe(3);
    const before = await all(`SELECT ${ATTEMPT_COLUMNS} FROM delivery_attempts ORDER BY request_id, attempt_number`);
    expect(before.map((row) => (row as { id: number }).id)).toEqual([1, (T + 10) * 1024, 2]);

    await applyD1Migrations(db(), env.TEST_MIGRATIONS);

    expect(await all(`SELECT ${ATTEMPT_COLUMNS} FROM delivery_attempts ORDER BY request_id, attempt_number`)).toEqual(before);
    // Same columns in the same order, so `SELECT *` readers see the same rows.
    const columns = (await all('PRAGMA table_info(delivery_attempts)')) as Array<{ name: string; pk: number; notnull: number }>;
    expect(columns.map((column) => column.name).join(', ')).toBe(ATTEMPT_COLUMNS);
    expect(columns.filter((column) => column.pk > 0).map((column) => [column.name, column.pk])).toEqual([
      ['request_id', 1],
      ['attempt_number', 2],
    ]);
    expect(columns.find((column) => column.name === 'id')!.notnull).toBe(1);
    const table = (await db().prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'delivery_attempts'").first<{ sql: string }>())!.sql;
    expect(table).toMatch(/\) WITHOUT ROWID$/);
    // No automatic index for the key any more: the stats index is the only b-tree beside the table.
    const indexes = (await all("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'delivery_attempts'")) as Array<{
      name: string;
      sql: string | null;
    }>;
    expect(indexes).toEqual([
      { name: 'delivery_attempts_stats', sql: 'CREATE INDEX delivery_attempts_stats ON delivery_attempts (started_at, outcome, duration_ms, error_code)' },
    ]);
    expect(await all('PRAGMA foreign_key_check')).toEqual([]);

    // An attempt recorded late, in a millisecond that holds a row from before 0016, gets an id of
    // its own millisecond, not the old row's id + 1 (which another old row holds).
    expect(await record(attempt('otp_old_b', 2, T))).toBe(2);
    expect(await idOf('otp_old_b', 2)).toBe(T * 1024);

    // The CHECK and the reference to otp_requests came along.
    await expect(db().prepare("UPDATE delivery_attempts SET outcome = 'lost' WHERE request_id = 'otp_old_a'").run()).rejects.toThrow(/CHECK constraint failed/);
    await expect(db().batch(recordAttemptStatements(db(), attempt('otp_none', 1, T)))).rejects.toThrow(/FOREIGN KEY constraint failed/);
  });

  it('an attempt writes 2 rows; ids of one millisecond are distinct and in order; a repeat is ignored', async () => {
    await applyD1Migrations(db(), env.TEST_MIGRATIONS);
    const t = T + 60_000;
    await seedRequests('otp_new_a', 'otp_new_b', 'otp_new_c');

    const sent = { decision: { action: 'sent', messageId: 'm-2' }, httpStatus: 201 } as const;
    expect(await record(attempt('otp_new_a', 1, t, sent))).toBe(2);
    expect(await record(attempt('otp_new_b', 1, t))).toBe(2);
    expect(await record(attempt('otp_new_c', 1, t))).toBe(2);
    expect(await record(attempt('otp_new_a', 2, t + 1))).toBe(2);
    const ids = [await idOf('otp_new_a', 1), await idOf('otp_new_b', 1), await idOf('otp_new_c', 1), await idOf('otp_new_a', 2)];
    expect(ids).toEqual([t * 1024, t * 1024 + 1, t * 1024 + 2, (t + 1) * 1024]);

    // Recorded again (a redelivered record_attempts message): nothing written, the first row stays.
    const first = await all("SELECT * FROM delivery_attempts WHERE request_id = 'otp_new_a' AND attempt_number = 1");
    expect(await record(attempt('otp_new_a', 1, t + 7))).toBe(0);
    expect(await all("SELECT * FROM delivery_attempts WHERE request_id = 'otp_new_a' AND attempt_number = 1")).toEqual(first);
    expect(await all("SELECT id FROM delivery_attempts WHERE request_id LIKE 'otp_new_%'")).toHaveLength(4);

    // Rows deleted from a millisecond (erasure, retention) never make a new id repeat one still stored.
    await db().prepare("DELETE FROM delivery_attempts WHERE request_id = 'otp_new_a' AND attempt_number = 1").run();
    expect(await record(attempt('otp_new_b', 2, t))).toBe(2);
    expect(await idOf('otp_new_b', 2)).toBe(t * 1024 + 3);
    const stored = (await all(`SELECT id FROM delivery_attempts WHERE started_at = ${t} ORDER BY id`)).map((row) => (row as { id: number }).id);
    expect(new Set(stored).size).toBe(stored.length);
  });
});
