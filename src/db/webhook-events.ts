import { ACTIVE_WEBHOOK } from './webhooks';

/**
 * Writing webhook events: the outbox. Each statement here goes in the same D1 batch as the change
 * of a request it reports, after it, so an event exists exactly when its change was committed. Only
 * apps with an active webhook that takes the event's type get a row, and only for changes made
 * while it was active. An event's id is derived from its request and type, so a change recorded
 * twice (a retried batch, a late outcome) writes one event. Each statement answers the ids it
 * wrote as `webhook_event_id`, for the caller to enqueue (`webhooks/enqueue-events.ts`).
 */

/** How long an event is retried after it happened (or after an operator redelivers it). */
export const EVENT_RETRY_WINDOW_MS = 24 * 60 * 60 * 1000;

/** The request statuses that are events, each with its bit in `webhooks.event_mask`. */
const BIT_OF_STATUS = `CASE r.status WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'failed' THEN 4 WHEN 'expired' THEN 8 WHEN 'verified' THEN 16 ELSE 0 END`;
/** When the request reached its status. */
const STATUS_AT = `CASE r.status WHEN 'sent' THEN r.sent_at WHEN 'delivered' THEN r.delivered_at WHEN 'verified' THEN r.verified_at ELSE r.updated_at END`;

/** An event id: `evt_` and the request id's random part, then the status (`evt_3q2…Zg_sent`). */
export const EVENT_ID_SQL = (status: string) => `'evt_' || substr(r.id, 5) || '_' || ${status}`;

const INSERT_COLUMNS = '(id, app_id, request_id, type, error_code, occurred_at, state, next_attempt_at, retry_until, provider, channel)';

/** The provider and channel the message went out through, for the events that report a message (`sent`, `delivered`). */
const SENT_THROUGH = `CASE WHEN r.status IN ('sent', 'delivered') THEN r.sent_provider END, CASE WHEN r.status IN ('sent', 'delivered') THEN r.sent_channel END`;

/**
 * The event of the request's current status, if that status is one (`sent`, `delivered`,
 * `failed`, `expired`, `verified`) and the event is not written yet. On `sent`, also the
 * `otp.expired` that happens if the code is still unverified when it expires: written
 * `scheduled`, it is sent or dropped by the sweeper at that time (cron/webhook-sweep.ts), and not
 * answered for enqueueing. One statement, whatever the app: one D1 read when it has no webhook.
 */
export function requestEventStatement(db: D1Database, requestId: string, now: number): D1PreparedStatement {
  return db
    .prepare(
      `INSERT OR IGNORE INTO webhook_events ${INSERT_COLUMNS}
       SELECT ${EVENT_ID_SQL('r.status')}, r.app_id, r.id, 'otp.' || r.status,
         CASE WHEN r.status IN ('failed', 'expired') THEN r.last_error_code END,
         COALESCE(${STATUS_AT}, ?2), 'pending', ?2, ?2 + ${EVENT_RETRY_WINDOW_MS}, ${SENT_THROUGH}
       FROM otp_requests r JOIN webhooks w ON w.app_id = r.app_id
       WHERE r.id = ?1 AND ${ACTIVE_WEBHOOK} AND (w.event_mask & ${BIT_OF_STATUS}) != 0
         AND COALESCE(${STATUS_AT}, ?2) >= w.active_since
       UNION ALL
       SELECT ${EVENT_ID_SQL("'expired'")}, r.app_id, r.id, 'otp.expired', 'code_expired', r.expires_at, 'scheduled', r.expires_at,
         r.expires_at + ${EVENT_RETRY_WINDOW_MS}, NULL, NULL
       FROM otp_requests r JOIN webhooks w ON w.app_id = r.app_id
       WHERE r.id = ?1 AND r.status = 'sent' AND r.expires_at > ?2 AND ${ACTIVE_WEBHOOK} AND (w.event_mask & 8) != 0
         AND COALESCE(r.sent_at, ?2) >= w.active_since
       RETURNING CASE state WHEN 'pending' THEN id END AS webhook_event_id`,
    )
    .bind(requestId, now);
}

/**
 * The `otp.expired` events of the requests the sweeper is about to end because their code expired
 * before it could be sent: the same rows as `expireUnsentRequests` (created after `createdAfter`),
 * read before its update in the same batch.
 */
export function unsentExpiryEventsStatement(db: D1Database, now: number, createdAfter: number): D1PreparedStatement {
  return db
    .prepare(
      `INSERT OR IGNORE INTO webhook_events ${INSERT_COLUMNS}
       SELECT ${EVENT_ID_SQL("'expired'")}, r.app_id, r.id, 'otp.expired', COALESCE(r.last_error_code, 'expired_before_delivery'), ?1, 'pending', ?1,
         ?1 + ${EVENT_RETRY_WINDOW_MS}, NULL, NULL
       FROM otp_requests r JOIN webhooks w ON w.app_id = r.app_id
       WHERE r.created_at > ?2 AND r.status IN ('queued', 'sending') AND r.expires_at <= ?1
         AND (r.lease_until IS NULL OR r.lease_until <= ?1) AND ${ACTIVE_WEBHOOK} AND (w.event_mask & 8) != 0
       RETURNING id AS webhook_event_id`,
    )
    .bind(now, createdAfter);
}

/** The ids of the events a batch wrote, from its statements' answers. */
export function writtenEventIds(results: ReadonlyArray<D1Result<unknown>>): string[] {
  const ids: string[] = [];
  for (const result of results) {
    for (const row of result.results ?? []) {
      const id = (row as { webhook_event_id?: unknown }).webhook_event_id;
      if (typeof id === 'string') ids.push(id);
    }
  }
  return ids;
}
