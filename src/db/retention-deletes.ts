/**
 * The daily retention run's deletes (see `cron/retention.ts`): each removes at most `rows` of the
 * oldest rows past the cutoff, and says how many went.
 */

/** A chunk of old requests, with their delivery attempts and status checks in the same D1 batch. */
export async function deleteOldRequests(db: D1Database, cutoff: number, rows: number): Promise<{ requests: number; attempts: number; statusChecks: number }> {
  const oldRequests = `SELECT id FROM otp_requests WHERE created_at < ?1 ORDER BY created_at LIMIT ?2`;
  const [attempts, checks, requests] = await db.batch([
    db.prepare(`DELETE FROM delivery_attempts WHERE request_id IN (${oldRequests})`).bind(cutoff, rows),
    db.prepare(`DELETE FROM status_checks WHERE request_id IN (${oldRequests})`).bind(cutoff, rows),
    db.prepare(`DELETE FROM otp_requests WHERE id IN (${oldRequests})`).bind(cutoff, rows),
  ]);
  return { requests: requests!.meta.changes ?? 0, attempts: attempts!.meta.changes ?? 0, statusChecks: checks!.meta.changes ?? 0 };
}

/** Tables whose rows stand alone, and the column their age is read from. */
const AGE_COLUMNS = {
  verification_events: 'at',
  dead_letters: 'received_at',
  sandbox_messages: 'created_at',
  idempotency_keys: 'created_at',
} as const;
export type StandaloneTable = keyof typeof AGE_COLUMNS;

export async function deleteOldRows(db: D1Database, table: StandaloneTable, before: number, rows: number): Promise<number> {
  const column = AGE_COLUMNS[table];
  const result = await db
    .prepare(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${column} < ?1 ORDER BY ${column} LIMIT ?2)`)
    .bind(before, rows)
    .run();
  return result.meta.changes ?? 0;
}

/** A chunk of finished bulk resends created before the cutoff, with their chunk rows. */
export async function deleteOldResendJobs(db: D1Database, cutoff: number, rows: number): Promise<number> {
  const oldJobs = `SELECT id FROM resend_jobs WHERE created_at < ?1 AND finished_at IS NOT NULL ORDER BY created_at LIMIT ?2`;
  const [, jobs] = await db.batch([
    db.prepare(`DELETE FROM resend_chunks WHERE resend_id IN (${oldJobs})`).bind(cutoff, rows),
    db.prepare(`DELETE FROM resend_jobs WHERE id IN (${oldJobs})`).bind(cutoff, rows),
  ]);
  return jobs!.meta.changes ?? 0;
}

/** A chunk of webhook events that happened before the cutoff, with their delivery attempts in the same D1 batch. */
export async function deleteOldWebhookEvents(db: D1Database, cutoff: number, rows: number): Promise<{ events: number; attempts: number }> {
  const oldEvents = `SELECT id FROM webhook_events WHERE occurred_at < ?1 ORDER BY occurred_at LIMIT ?2`;
  const [attempts, events] = await db.batch([
    db.prepare(`DELETE FROM webhook_attempts WHERE event_id IN (${oldEvents})`).bind(cutoff, rows),
    db.prepare(`DELETE FROM webhook_events WHERE id IN (${oldEvents})`).bind(cutoff, rows),
  ]);
  return { events: events!.meta.changes ?? 0, attempts: attempts!.meta.changes ?? 0 };
}
