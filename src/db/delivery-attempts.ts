import { z } from 'zod';
import type { AttemptRecord as AttemptRecordSchema } from '../queue/messages';
import { FINAL_STATUSES, RequestStatus } from './requests';
import { requestEventStatement } from './webhook-events';

/**
 * How long one consumer owns a request while it calls the provider. Another copy of the same
 * job (queues deliver at least once) that arrives meanwhile waits instead of calling too. It
 * outlasts the longest a batch can take: waiting for its send time, then a call that times out,
 * once per call a worker makes in turn when the batch holds more calls than run at once.
 */
export const SEND_LEASE_MS = 30_000;

export function sendLeaseMs(providerTimeoutMs: number, pacingHorizonMs: number, callsInTurn = 1): number {
  return Math.max(SEND_LEASE_MS, pacingHorizonMs + callsInTurn * providerTimeoutMs + 15_000);
}

const ClaimedRow = z.object({
  id: z.string(),
  phone_number: z.string(),
  expires_at: z.number(),
  attempts: z.number(),
  app_id: z.string().nullable(),
  code_length: z.number().nullable(),
  /** The app's settings as stored, read in the same statement (template id for the SMS). */
  app_settings_json: z.string().nullable(),
  /** The app's name, for vendors that take the whole text of the message. */
  app_name: z.string().nullable(),
  /** The channel asked for (`sms`, `whatsapp`, `auto`) and when an `auto` request gave up on WhatsApp. */
  channel: z.string(),
  sms_fallback_at: z.number().nullable(),
  delivery_checks: z.number(),
  /** Its recorded calls, oldest first, as JSON `[[provider, channel, outcome, ambiguous], …]`. */
  past_attempts: z.string(),
});
export type ClaimedRequest = z.infer<typeof ClaimedRow>;

const StateRow = z.object({ id: z.string(), status: RequestStatus, lease_until: z.number().nullable(), expires_at: z.number() });
export type RequestState = z.infer<typeof StateRow>;

/**
 * Takes the send lease of each request in one D1 round trip. A request is claimable while it
 * waits to be sent, is not leased by another consumer, and its code outlives the moment its
 * provider call may start (`sendAt`, its pacing slot, up to the pacing horizon ahead): a code
 * that would expire while the call waits for its slot is never sent.
 */
export async function claimRequests(
  db: D1Database,
  ids: readonly string[],
  now: number,
  leaseMs: number,
  sendAt: ReadonlyMap<string, number> = new Map(),
): Promise<Map<string, ClaimedRequest>> {
  if (ids.length === 0) return new Map();
  const results = await db.batch(
    ids.map((id) =>
      db
        .prepare(
          `UPDATE otp_requests
           SET status = 'sending', attempts = attempts + 1, lease_until = ?1, updated_at = ?2
           WHERE id = ?3 AND status IN ('queued', 'sending') AND (lease_until IS NULL OR lease_until <= ?2)
             AND expires_at > ?4
           RETURNING id, phone_number, expires_at, attempts, app_id, code_length, channel, sms_fallback_at, delivery_checks,
             (SELECT settings_json FROM apps WHERE apps.id = otp_requests.app_id) AS app_settings_json,
             (SELECT name FROM apps WHERE apps.id = otp_requests.app_id) AS app_name,
             (SELECT json_group_array(json_array(COALESCE(a.provider, ''), COALESCE(a.channel, 'sms'), a.outcome, a.ambiguous))
              FROM (SELECT provider, channel, outcome, ambiguous FROM delivery_attempts
                    WHERE request_id = otp_requests.id ORDER BY attempt_number) AS a) AS past_attempts`,
        )
        .bind(now + leaseMs, now, id, Math.max(now, sendAt.get(id) ?? now)),
    ),
  );
  const claimed = new Map<string, ClaimedRequest>();
  for (const result of results) {
    const row = result.results[0];
    if (row) {
      const parsed = ClaimedRow.parse(row);
      claimed.set(parsed.id, parsed);
    }
  }
  return claimed;
}

/** Why a request could not be claimed, for those `claimRequests` skipped. */
export async function readStates(db: D1Database, ids: readonly string[]): Promise<Map<string, RequestState>> {
  if (ids.length === 0) return new Map();
  const placeholders = ids.map((_, index) => `?${index + 1}`).join(', ');
  const { results } = await db
    .prepare(`SELECT id, status, lease_until, expires_at FROM otp_requests WHERE id IN (${placeholders})`)
    .bind(...ids)
    .all();
  return new Map(results.map((row) => StateRow.parse(row)).map((row) => [row.id, row]));
}

export function isFinal(status: RequestStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

export type AttemptRecord = z.infer<typeof AttemptRecordSchema>;

/** What one provider call came to (`delivery_attempts.outcome`). */
export const ATTEMPT_OUTCOMES = ['sent', 'retry', 'failed', 'expired'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/**
 * The SQL of a new attempt's id, given the SQL (a placeholder) of its start time. The table has no
 * rowid to hand ids out (migration 0016), and the id is the admin API's attemptId and the listing's
 * tie-breaker after started_at. The attempts of one millisecond get startedAt * 1024 + 0, 1, 2, …,
 * read from delivery_attempts_stats: unique, as D1 runs one statement at a time and MAX (not COUNT)
 * never repeats an id still stored after rows are deleted; ordered by start time; far below 2^53.
 * The floor keeps an attempt recorded late, in a millisecond that holds a row from before 0016,
 * clear of those rows' small ids. One row per statement: SQLite evaluates it once per statement.
 */
export function newAttemptIdSql(startedAt: string): string {
  return `(SELECT MAX(COALESCE(MAX(id) + 1, 0), ${startedAt} * 1024) FROM delivery_attempts WHERE started_at = ${startedAt})`;
}

/**
 * The audit row of one provider call and the request's new state, as statements for one batch.
 * The state update applies only while the request is still `sending` under this attempt's claim
 * (each claim counts itself in `attempts`): a request superseded meanwhile keeps its newer state,
 * and one claimed again after its lease lapsed belongs to the newer claim.
 */
export function recordAttemptStatements(db: D1Database, attempt: AttemptRecord): D1PreparedStatement[] {
  const { decision } = attempt;
  const outcomes: Record<typeof decision.action, AttemptOutcome> = { sent: 'sent', fail: 'failed', retry: 'retry', expire: 'expired' };
  const outcome = outcomes[decision.action];
  const messageId = decision.action === 'sent' ? decision.messageId : null;
  const errorCode = decision.action === 'sent' ? null : decision.errorCode;
  const errorMessage = decision.action === 'sent' ? null : decision.message;
  const retryDelay = decision.action === 'retry' ? decision.delaySeconds : null;
  const newStatus = { sent: 'sent', fail: 'failed', retry: 'queued', expire: 'expired' }[decision.action];
  return [
    db
      .prepare(
        `INSERT INTO delivery_attempts (id, request_id, attempt_number, started_at, finished_at, duration_ms, outcome,
           http_status, provider_message_id, error_code, error_message, retry_delay_seconds, provider, channel, ambiguous)
         VALUES (${newAttemptIdSql('?3')}, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (request_id, attempt_number) DO NOTHING`,
      )
      .bind(
        attempt.requestId,
        attempt.attemptNumber,
        attempt.startedAt,
        attempt.finishedAt,
        attempt.finishedAt - attempt.startedAt,
        outcome,
        attempt.httpStatus,
        messageId,
        errorCode,
        errorMessage,
        retryDelay,
        attempt.provider ?? null,
        attempt.channel ?? 'sms',
        attempt.ambiguous ? 1 : 0,
      ),
    db
      .prepare(
        `UPDATE otp_requests
         SET status = ?1, updated_at = ?2, lease_until = NULL,
             sent_at = CASE WHEN ?1 = 'sent' THEN ?2 ELSE sent_at END,
             provider_message_id = COALESCE(?3, provider_message_id),
             sent_provider = CASE WHEN ?1 = 'sent' THEN ?8 ELSE sent_provider END,
             sent_channel = CASE WHEN ?1 = 'sent' THEN ?9 ELSE sent_channel END,
             sms_fallback_at = CASE WHEN ?10 = 1 THEN COALESCE(sms_fallback_at, ?2) ELSE sms_fallback_at END,
             last_error_code = ?4, last_error_message = ?5
         WHERE id = ?6 AND status = 'sending' AND attempts = ?7`,
      )
      .bind(
        newStatus,
        attempt.finishedAt,
        messageId,
        errorCode,
        errorMessage,
        attempt.requestId,
        attempt.attemptNumber,
        attempt.provider ?? null,
        attempt.channel ?? 'sms',
        attempt.fallbackToSms ? 1 : 0,
      ),
    // The webhook event of the outcome (`otp.sent`, `otp.failed`, `otp.expired`), for apps that have one.
    ...(decision.action === 'retry' ? [] : [requestEventStatement(db, attempt.requestId, attempt.finishedAt)]),
  ];
}

/**
 * Gives back a claim whose provider call never started (it could not keep a send time before its
 * deadline): the request waits in line again and the claim's attempt is not counted, since
 * `attempts` counts provider calls. Guarded like an outcome: a newer claim is left alone.
 */
export function releaseClaimStatement(db: D1Database, change: { requestId: string; attemptNumber: number; now: number }): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE otp_requests
       SET status = 'queued', attempts = attempts - 1, lease_until = NULL, updated_at = ?1
       WHERE id = ?2 AND status = 'sending' AND attempts = ?3`,
    )
    .bind(change.now, change.requestId, change.attemptNumber);
}

/** Ends a request that never reached the provider (expired in the queue, or misconfigured), with its webhook event. */
export function finishWithoutSendingStatements(
  db: D1Database,
  change: { requestId: string; status: 'failed' | 'expired'; errorCode: string; message: string; now: number },
): D1PreparedStatement[] {
  return [
    db
      .prepare(
        `UPDATE otp_requests
         SET status = ?1, updated_at = ?2, lease_until = NULL, last_error_code = ?3, last_error_message = ?4
         WHERE id = ?5 AND status IN ('queued', 'sending')`,
      )
      .bind(change.status, change.now, change.errorCode, change.message, change.requestId),
    requestEventStatement(db, change.requestId, change.now),
  ];
}

/** The provider name a test number's attempt records: it reached none. */
export const TEST_NUMBER_PROVIDER = 'test_number';

/**
 * An app's test number is sent by nobody: its request is recorded as sent at once, with one
 * attempt naming `test_number` as its provider, so the audit shows what happened and why no
 * provider call exists. Batched with the request's insert.
 */
export function testNumberSentStatements(db: D1Database, request: { requestId: string; now: number }): D1PreparedStatement[] {
  return [
    db
      .prepare(
        `INSERT INTO delivery_attempts (id, request_id, attempt_number, started_at, finished_at, duration_ms, outcome, provider, channel)
         VALUES (${newAttemptIdSql('?2')}, ?1, 1, ?2, ?2, 0, 'sent', ?3, 'sms')`,
      )
      .bind(request.requestId, request.now, TEST_NUMBER_PROVIDER),
    // Named as the sender too, so the status view and the `otp.sent` event say no provider sent it.
    db
      .prepare(
        `UPDATE otp_requests SET status = 'sent', attempts = 1, sent_at = ?2, updated_at = ?2, sent_provider = ?3, sent_channel = 'sms'
         WHERE id = ?1 AND status = 'queued'`,
      )
      .bind(request.requestId, request.now, TEST_NUMBER_PROVIDER),
    requestEventStatement(db, request.requestId, request.now),
  ];
}
