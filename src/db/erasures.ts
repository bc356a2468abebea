import { z } from 'zod';

/**
 * Erasing one person's data from D1 (migration 0013), and the record each erasure leaves. What
 * holds the number: the number itself (`otp_requests`, `sandbox_messages`, `phone_locks`, a
 * resend's filter) or an unsalted or keyed hash of it (`idempotency_keys.fingerprint`,
 * `phone_session_revocations.phone_hash`), and every row of a request made for it. What does not:
 * a destination prefix (five digits, shared by a hundred thousand numbers) or a masked number
 * (`+91******3210`). docs/schema.md lists every table and column by that rule.
 */

/** The rows erased: one app's requests for the number (its `app_id` bound), or every app's. */
export interface ErasureTarget {
  phoneNumber: string;
  /** null: every app's data, and what is kept for the number across apps (locks, session revocations, resend filters). */
  appId: string | null;
  /** `idempotency_keys.fingerprint` of a send to the number. */
  fingerprint: string;
  /** `phone_session_revocations.phone_hash` of the number. */
  sessionHash: string;
  /** Put in a resend's filter in place of the number: it then matches nothing. */
  masked: string;
}

/** ?1 number, ?2 app (NULL: every app), ?3 fingerprint, ?4 session hash, ?5 masked number. */
const REQUESTS = 'SELECT id FROM otp_requests WHERE phone_number = ?1 AND (?2 IS NULL OR app_id = ?2)';
const EVERY_APP = '?2 IS NULL';

/** Dependents first, the requests last; all in one batch, so an erasure is whole or not at all. */
const ERASE: ReadonlyArray<readonly [table: string, sql: string]> = [
  ['webhook_attempts', `DELETE FROM webhook_attempts WHERE event_id IN (SELECT id FROM webhook_events WHERE request_id IN (${REQUESTS}))`],
  ['webhook_events', `DELETE FROM webhook_events WHERE request_id IN (${REQUESTS})`],
  ['delivery_attempts', `DELETE FROM delivery_attempts WHERE request_id IN (${REQUESTS})`],
  ['status_checks', `DELETE FROM status_checks WHERE request_id IN (${REQUESTS})`],
  ['verification_events', `DELETE FROM verification_events WHERE request_id IN (${REQUESTS})`],
  ['dead_letters', `DELETE FROM dead_letters WHERE request_id IN (${REQUESTS})`],
  ['sandbox_messages', `DELETE FROM sandbox_messages WHERE phone_number = ?1 AND (${EVERY_APP} OR request_id IN (${REQUESTS}))`],
  ['idempotency_keys', `DELETE FROM idempotency_keys WHERE request_id IN (${REQUESTS}) OR (fingerprint = ?3 AND (${EVERY_APP} OR app_id = ?2))`],
  ['phone_locks', `DELETE FROM phone_locks WHERE ${EVERY_APP} AND phone_number = ?1`],
  ['phone_session_revocations', `DELETE FROM phone_session_revocations WHERE ${EVERY_APP} AND phone_hash = ?4`],
  [
    'resend_jobs',
    `UPDATE resend_jobs SET filter_json = replace(filter_json, '"' || ?1 || '"', '"' || ?5 || '"')
      WHERE ${EVERY_APP} AND instr(filter_json, '"' || ?1 || '"') > 0`,
  ],
  ['otp_requests', `DELETE FROM otp_requests WHERE id IN (${REQUESTS})`],
];

/** The tables an erasure touches, in the order of its counts. */
export const ERASED_TABLES = ERASE.map(([table]) => table);

/** The erasing statements, each bound to exactly the parameters it names. */
export function eraseStatements(db: D1Database, target: ErasureTarget): D1PreparedStatement[] {
  const values = [target.phoneNumber, target.appId, target.fingerprint, target.sessionHash, target.masked];
  return ERASE.map(([, sql]) => {
    const highest = Math.max(...[...sql.matchAll(/\?(\d)/g)].map((match) => Number(match[1])));
    return db.prepare(sql).bind(...values.slice(0, highest));
  });
}

/** Rows each table lost, from the batch's answers, in `ERASED_TABLES` order. */
export function erasedCounts(results: D1Result[]): Record<string, number> {
  return Object.fromEntries(ERASED_TABLES.map((table, index) => [table, results[index]?.meta.changes ?? 0]));
}

/** The ids of one app's requests for the number: their rows in the limiter objects go too. */
export async function requestIdsFor(db: D1Database, phoneNumber: string, appId: string): Promise<string[]> {
  const { results } = await db.prepare(REQUESTS).bind(phoneNumber, appId).all<{ id: string }>();
  return results.map((row) => row.id);
}

export interface ErasureRecord {
  id: string;
  at: number;
  actor: string;
  appId: string | null;
  rows: Record<string, number>;
}

export function insertErasureStatement(db: D1Database, record: ErasureRecord): D1PreparedStatement {
  return db
    .prepare('INSERT INTO erasures (id, at, actor, app_id, rows_json) VALUES (?1, ?2, ?3, ?4, ?5)')
    .bind(record.id, record.at, record.actor, record.appId, JSON.stringify(record.rows));
}

const ErasureRow = z.object({ id: z.string(), at: z.number(), actor: z.string(), app_id: z.string().nullable(), rows_json: z.string() });

/** The newest erasures first, at most `limit`; one app's only when given. */
export async function listErasures(db: D1Database, options: { limit: number; appId?: string }): Promise<ErasureRecord[]> {
  const { results } = await db
    .prepare('SELECT id, at, actor, app_id, rows_json FROM erasures WHERE ?1 IS NULL OR app_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2')
    .bind(options.appId ?? null, options.limit)
    .all();
  return results.map((raw) => {
    const row = ErasureRow.parse(raw);
    const rows = z.record(z.string(), z.number().int()).parse(JSON.parse(row.rows_json));
    return { id: row.id, at: row.at, actor: row.actor, appId: row.app_id, rows };
  });
}
