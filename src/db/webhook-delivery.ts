import { z } from 'zod';
import { WEBHOOK_EVENT_TYPES, WebhookRow } from './webhooks';

/**
 * The webhook consumer's statements: claiming events (a lease, as sends have), reading why one
 * could not be claimed, and recording each attempt with the event's new state in one batch.
 */

/** How early a job may arrive for its attempt and still make it (clocks of two machines differ a little). */
export const DUE_SLACK_MS = 30_000;

export const WEBHOOK_EVENT_STATES = ['scheduled', 'pending', 'delivered', 'failed'] as const;
export type WebhookEventState = (typeof WEBHOOK_EVENT_STATES)[number];

const ClaimedRow = z.object({
  id: z.string(),
  app_id: z.string(),
  request_id: z.string(),
  type: z.enum(WEBHOOK_EVENT_TYPES),
  error_code: z.string().nullable(),
  occurred_at: z.number(),
  /** This attempt's number: the claim counts it. */
  attempts: z.number(),
  /** Attempts since the event was written or last redelivered, this one included. */
  round_attempts: z.number(),
  retry_until: z.number(),
  /** The provider and channel an `otp.sent` or `otp.delivered` reports; null for the other events (and events written before 0012). */
  provider: z.string().nullable(),
  channel: z.string().nullable(),
  /** The request's number, read for receivers that asked for it; null once the request is deleted. */
  phone_number: z.string().nullable(),
});
export type ClaimedEvent = z.infer<typeof ClaimedRow>;

/**
 * Claims each event whose attempt is due, in one D1 round trip, with the webhooks of their apps
 * (read in the same batch, so an attempt uses the URL and settings as they are now). An event is
 * claimable while pending, unleased and due; a copy of its job that comes early finds it not due.
 */
export async function claimEvents(
  db: D1Database,
  ids: readonly string[],
  now: number,
  leaseMs: number,
): Promise<{ claimed: Map<string, ClaimedEvent>; webhooks: Map<string, WebhookRow> }> {
  if (ids.length === 0) return { claimed: new Map(), webhooks: new Map() };
  const placeholders = ids.map((_, index) => `?${index + 1}`).join(', ');
  const results = await db.batch([
    ...ids.map((id) =>
      db
        .prepare(
          `UPDATE webhook_events
           SET lease_until = ?1, attempts = attempts + 1, round_attempts = round_attempts + 1, last_attempt_at = ?2
           WHERE id = ?3 AND state = 'pending' AND (lease_until IS NULL OR lease_until <= ?2) AND next_attempt_at <= ?4
           RETURNING id, app_id, request_id, type, error_code, occurred_at, attempts, round_attempts, retry_until, provider, channel,
             (SELECT phone_number FROM otp_requests r WHERE r.id = webhook_events.request_id) AS phone_number`,
        )
        .bind(now + leaseMs, now, id, now + DUE_SLACK_MS),
    ),
    db.prepare(`SELECT * FROM webhooks WHERE app_id IN (SELECT app_id FROM webhook_events WHERE id IN (${placeholders}))`).bind(...ids),
  ]);
  const claimed = new Map<string, ClaimedEvent>();
  for (const result of results.slice(0, ids.length)) {
    const row = result.results[0];
    if (row) {
      const parsed = ClaimedRow.parse(row);
      claimed.set(parsed.id, parsed);
    }
  }
  const webhooks = new Map(
    results
      .at(-1)!
      .results.map((row) => WebhookRow.parse(row))
      .map((row) => [row.app_id, row]),
  );
  return { claimed, webhooks };
}

const StateRow = z.object({
  id: z.string(),
  state: z.enum(WEBHOOK_EVENT_STATES),
  lease_until: z.number().nullable(),
  next_attempt_at: z.number(),
});
export type EventState = z.infer<typeof StateRow>;

/** Why events could not be claimed. */
export async function readEventStates(db: D1Database, ids: readonly string[]): Promise<Map<string, EventState>> {
  if (ids.length === 0) return new Map();
  const placeholders = ids.map((_, index) => `?${index + 1}`).join(', ');
  const { results } = await db
    .prepare(`SELECT id, state, lease_until, next_attempt_at FROM webhook_events WHERE id IN (${placeholders})`)
    .bind(...ids)
    .all();
  return new Map(results.map((row) => StateRow.parse(row)).map((row) => [row.id, row]));
}

export const WEBHOOK_ATTEMPT_OUTCOMES = ['delivered', 'retry', 'failed'] as const;
export type WebhookAttemptOutcome = (typeof WEBHOOK_ATTEMPT_OUTCOMES)[number];

export interface WebhookAttemptRecord {
  eventId: string;
  attemptNumber: number;
  startedAt: number;
  finishedAt: number;
  httpStatus: number | null;
  outcome: WebhookAttemptOutcome;
  errorCode: string | null;
  errorMessage: string | null;
  /** For `retry`: when the next attempt is due. */
  retryDelaySeconds: number | null;
}

/**
 * The audit row of one attempt and the event's new state, for one batch. The state changes only
 * while the event is still held by this attempt's claim (its `attempts`), as with sends.
 */
export function recordWebhookAttemptStatements(db: D1Database, record: WebhookAttemptRecord): D1PreparedStatement[] {
  const nextAttemptAt = record.outcome === 'retry' ? record.finishedAt + (record.retryDelaySeconds ?? 0) * 1000 : null;
  return [
    db
      .prepare(
        `INSERT INTO webhook_attempts (event_id, attempt_number, started_at, duration_ms, outcome, http_status, error_code, error_message, retry_delay_seconds)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (event_id, attempt_number) DO NOTHING`,
      )
      .bind(
        record.eventId,
        record.attemptNumber,
        record.startedAt,
        record.finishedAt - record.startedAt,
        record.outcome,
        record.httpStatus,
        record.errorCode,
        record.errorMessage,
        record.retryDelaySeconds,
      ),
    db
      .prepare(
        `UPDATE webhook_events
         SET state = CASE ?3 WHEN 'retry' THEN 'pending' ELSE ?3 END, lease_until = NULL,
             next_attempt_at = COALESCE(?4, next_attempt_at), last_error_code = ?5,
             delivered_at = CASE ?3 WHEN 'delivered' THEN ?6 ELSE delivered_at END
         WHERE id = ?1 AND state = 'pending' AND attempts = ?2`,
      )
      .bind(record.eventId, record.attemptNumber, record.outcome, nextAttemptAt, record.errorCode, record.finishedAt),
  ];
}

/** What an event whose job was dead-lettered records as its last error. */
export const DEAD_LETTERED = 'dead_lettered';

/** Ends an event whose job was dead-lettered, unless it moved on meanwhile. */
export function failDeadLetteredEventStatement(db: D1Database, eventId: string): D1PreparedStatement {
  return db
    .prepare(`UPDATE webhook_events SET state = 'failed', lease_until = NULL, last_error_code = ?2 WHERE id = ?1 AND state = 'pending'`)
    .bind(eventId, DEAD_LETTERED);
}
