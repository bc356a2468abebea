import { z } from 'zod';
import { ATTEMPT_OUTCOMES } from './delivery-attempts';
import { OtpRequestRow, REQUEST_ORIGINS, type RequestStatus, UNSUCCESSFUL_INDEX_TERM, UNSUCCESSFUL_STATUSES } from './requests';
import { CHECK_RESULTS } from './status-checks';

/**
 * The admin listings. Newest first with keyset pagination on (time, id): each page is an index
 * range read, whatever its depth, and rows inserted between pages cannot shift later pages.
 */

export interface Position {
  at: number;
  id: string | number;
}

export interface RequestFilter {
  /** One app's requests (never those made before apps, whose app_id is NULL). */
  appId?: string;
  phoneNumber?: string;
  statuses?: RequestStatus[];
  origin?: 'api' | 'operator_resend';
  errorCode?: string;
  resendId?: string;
  since?: number;
  until?: number;
}

class Sql {
  readonly conditions: string[] = [];
  readonly params: unknown[] = [];
  param(value: unknown): string {
    this.params.push(value);
    return `?${this.params.length}`;
  }
  where(): string {
    return this.conditions.length ? `WHERE ${this.conditions.join(' AND ')}` : '';
  }
}

export async function listRequests(db: D1Database, filter: RequestFilter, page: { after: Position | null; limit: number }): Promise<OtpRequestRow[]> {
  const sql = new Sql();
  // With no narrower filter, SQLite reads a range of otp_requests_app_created_id: this app's rows only, in page order.
  if (filter.appId) sql.conditions.push(`app_id = ${sql.param(filter.appId)}`);
  if (filter.phoneNumber) sql.conditions.push(`phone_number = ${sql.param(filter.phoneNumber)}`);
  if (filter.statuses?.length) {
    sql.conditions.push(`status IN (SELECT value FROM json_each(${sql.param(JSON.stringify(filter.statuses))}))`);
    // SQLite reads a partial index only for a query whose WHERE names the index's own term: the
    // rare statuses operators look for are a range of that index; others walk the time index.
    if (filter.statuses.every((status) => UNSUCCESSFUL_STATUSES.includes(status))) sql.conditions.push(UNSUCCESSFUL_INDEX_TERM);
  }
  // A literal, not a parameter (the value is one of two, checked by zod): only a literal lets
  // SQLite use the partial index that holds operator resends.
  if (filter.origin) sql.conditions.push(filter.origin === 'operator_resend' ? "origin = 'operator_resend'" : "origin = 'api'");
  if (filter.errorCode) sql.conditions.push(`last_error_code = ${sql.param(filter.errorCode)}`);
  if (filter.resendId) sql.conditions.push(`resend_id = ${sql.param(filter.resendId)}`);
  if (filter.since !== undefined) sql.conditions.push(`created_at >= ${sql.param(filter.since)}`);
  if (filter.until !== undefined) sql.conditions.push(`created_at < ${sql.param(filter.until)}`);
  if (page.after) sql.conditions.push(`(created_at, id) < (${sql.param(page.after.at)}, ${sql.param(String(page.after.id))})`);
  const { results } = await db
    .prepare(`SELECT * FROM otp_requests ${sql.where()} ORDER BY created_at DESC, id DESC LIMIT ${sql.param(page.limit)}`)
    .bind(...sql.params)
    .all();
  return results.map((row) => OtpRequestRow.parse(row));
}

export const AttemptRow = z.object({
  id: z.number(),
  request_id: z.string(),
  attempt_number: z.number(),
  started_at: z.number(),
  finished_at: z.number(),
  duration_ms: z.number(),
  outcome: z.enum(ATTEMPT_OUTCOMES),
  http_status: z.number().nullable(),
  provider_message_id: z.string().nullable(),
  error_code: z.string().nullable(),
  error_message: z.string().nullable(),
  retry_delay_seconds: z.number().nullable(),
  provider: z.string().nullable(),
  channel: z.enum(['sms', 'whatsapp']).nullable(),
  ambiguous: z.number(),
  phone_number: z.string(),
  origin: z.enum(REQUEST_ORIGINS),
  app_id: z.string().nullable(),
});
export type AttemptRow = z.infer<typeof AttemptRow>;
export type AttemptOutcome = AttemptRow['outcome'];

export interface AttemptFilter {
  /** Attempts of one app's requests. */
  appId?: string;
  phoneNumber?: string;
  requestId?: string;
  outcomes?: AttemptOutcome[];
  errorCode?: string;
  since?: number;
  until?: number;
}

const ATTEMPT_COLUMNS = `a.id, a.request_id, a.attempt_number, a.started_at, a.finished_at, a.duration_ms, a.outcome, a.http_status,
  a.provider_message_id, a.error_code, a.error_message, a.retry_delay_seconds, a.provider, a.channel, a.ambiguous, r.phone_number, r.origin, r.app_id`;

export async function listAttempts(db: D1Database, filter: AttemptFilter, page: { after: Position | null; limit: number }): Promise<AttemptRow[]> {
  const sql = new Sql();
  if (filter.appId) sql.conditions.push(`r.app_id = ${sql.param(filter.appId)}`);
  if (filter.phoneNumber) {
    sql.conditions.push(`a.request_id IN (SELECT id FROM otp_requests WHERE phone_number = ${sql.param(filter.phoneNumber)})`);
  }
  if (filter.requestId) sql.conditions.push(`a.request_id = ${sql.param(filter.requestId)}`);
  if (filter.outcomes?.length) sql.conditions.push(`a.outcome IN (SELECT value FROM json_each(${sql.param(JSON.stringify(filter.outcomes))}))`);
  if (filter.errorCode) sql.conditions.push(`a.error_code = ${sql.param(filter.errorCode)}`);
  if (filter.since !== undefined) sql.conditions.push(`a.started_at >= ${sql.param(filter.since)}`);
  if (filter.until !== undefined) sql.conditions.push(`a.started_at < ${sql.param(filter.until)}`);
  if (page.after) sql.conditions.push(`(a.started_at, a.id) < (${sql.param(page.after.at)}, ${sql.param(Number(page.after.id))})`);
  // Attempts have no app: by app, they are walked newest first on their time index and each one's
  // request is read by its key (CROSS JOIN keeps that order). Left to itself SQLite would read all
  // of the app's requests ever made, with all their attempts, and sort them, for every page.
  const join = filter.appId ? 'CROSS JOIN' : 'JOIN';
  const { results } = await db
    .prepare(
      `SELECT ${ATTEMPT_COLUMNS} FROM delivery_attempts a ${join} otp_requests r ON r.id = a.request_id
       ${sql.where()} ORDER BY a.started_at DESC, a.id DESC LIMIT ${sql.param(page.limit)}`,
    )
    .bind(...sql.params)
    .all();
  return results.map((row) => AttemptRow.parse(row));
}

export const StatusCheckRow = z.object({
  check_number: z.number(),
  checked_at: z.number(),
  duration_ms: z.number(),
  http_status: z.number().nullable(),
  provider_status: z.string().nullable(),
  outcome: z.enum(CHECK_RESULTS),
  error_code: z.string().nullable(),
  error_message: z.string().nullable(),
  next_check_seconds: z.number().nullable(),
});
export type StatusCheckRow = z.infer<typeof StatusCheckRow>;

const LinkedRequest = z.object({ id: z.string(), status: z.string(), origin: z.string(), created_at: z.number() });
export type LinkedRequest = z.infer<typeof LinkedRequest>;

/** Everything recorded about one request, in one D1 round trip. */
export async function requestHistory(db: D1Database, requestId: string) {
  const [request, attempts, checks, replacedBy] = await db.batch([
    db.prepare('SELECT * FROM otp_requests WHERE id = ?1').bind(requestId),
    db
      .prepare(
        `SELECT ${ATTEMPT_COLUMNS} FROM delivery_attempts a JOIN otp_requests r ON r.id = a.request_id WHERE a.request_id = ?1 ORDER BY a.attempt_number`,
      )
      .bind(requestId),
    db.prepare('SELECT * FROM status_checks WHERE request_id = ?1 ORDER BY check_number').bind(requestId),
    db.prepare('SELECT id, status, origin, created_at FROM otp_requests WHERE replaces_request_id = ?1 ORDER BY created_at').bind(requestId),
  ]);
  const row = request!.results[0];
  if (!row) return null;
  return {
    request: OtpRequestRow.parse(row),
    attempts: attempts!.results.map((r) => AttemptRow.parse(r)),
    statusChecks: checks!.results.map((r) => StatusCheckRow.parse(r)),
    replacedBy: replacedBy!.results.map((r) => LinkedRequest.parse(r)),
  };
}
