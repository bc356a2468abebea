import { OTP_TTL_MAX_SECONDS } from '../config';
import { unsentExpiryEventsStatement, writtenEventIds } from './webhook-events';

/** The sweeper's reads and marks: requests whose next step was lost on the way (see `cron/sweeper.ts`). */

/**
 * How far back waiting requests (`queued`, `sending`) are looked for. No status index holds them
 * (every status change of every OTP would write one, migration 0015), so they are read through
 * otp_requests_created_id, a range of this length. That is complete: a request's code lives at
 * most OTP_TTL_MAX_SECONDS from its creation, so one older than that is no longer sendable (the
 * stalled-send search finds every sendable one), and it is expired by the first sweep after its
 * expiry. The margin covers sweeps missed for a quarter of an hour; `DEEP_WAITING_HORIZON_MS`
 * covers longer gaps.
 */
export const WAITING_HORIZON_MS = OTP_TTL_MAX_SECONDS * 1000 + 15 * 60_000;
/**
 * The horizon of the sweep's rare deep pass (once an hour, cron/sweeper.ts): requests left waiting
 * by a cron that did not run for up to a day are expired too, at the cost of reading a day of
 * requests once an hour instead of an hour and a quarter every minute.
 */
export const DEEP_WAITING_HORIZON_MS = 24 * 60 * 60_000;

/**
 * Ends requests whose code expired before anything could be sent, created within `horizonMs`, with
 * their `otp.expired` webhook events in the same batch; returns how many, and the events to enqueue.
 */
export async function expireUnsentRequests(
  db: D1Database,
  now: number,
  horizonMs: number = WAITING_HORIZON_MS,
): Promise<{ expired: number; webhookEventIds: string[] }> {
  const [events, expired] = await db.batch([
    unsentExpiryEventsStatement(db, now, now - horizonMs),
    db
      .prepare(
        `UPDATE otp_requests
         SET status = 'expired', updated_at = ?1, lease_until = NULL,
             last_error_code = COALESCE(last_error_code, 'expired_before_delivery'),
             last_error_message = COALESCE(last_error_message, 'the code expired before it could be sent')
         WHERE created_at > ?2 AND status IN ('queued', 'sending') AND expires_at <= ?1
           AND (lease_until IS NULL OR lease_until <= ?1)`,
      )
      .bind(now, now - horizonMs),
  ]);
  return { expired: expired!.meta.changes ?? 0, webhookEventIds: writtenEventIds([events!]) };
}

/**
 * The last sign of life of a waiting request is its latest change, enqueue or lease end; a retry
 * its last attempt scheduled is due that many seconds after the change. Only requests whose code
 * is still alive can be sent, all created within WAITING_HORIZON_MS: read through
 * otp_requests_created_id, oldest first.
 */
export async function stalledSendIds(db: D1Database, now: number, grace: number, limit: number): Promise<string[]> {
  const { results } = await db
    .prepare(
      `SELECT r.id FROM otp_requests r
       LEFT JOIN delivery_attempts a ON a.request_id = r.id AND a.attempt_number = r.attempts AND a.outcome = 'retry'
       WHERE r.created_at > ?4 AND r.status IN ('queued', 'sending') AND r.expires_at > ?1
         AND MAX(r.created_at, r.updated_at, COALESCE(r.enqueued_at, 0), COALESCE(r.lease_until, 0))
             + COALESCE(a.retry_delay_seconds, 0) * 1000 + ?2 <= ?1
       ORDER BY r.created_at LIMIT ?3`,
    )
    .bind(now, grace, limit, now - WAITING_HORIZON_MS)
    .all<{ id: string }>();
  return results.map((row) => row.id);
}

/** Marks re-enqueued requests that still wait to be sent (at most 99 ids). */
export async function markReenqueued(db: D1Database, ids: readonly string[], now: number): Promise<void> {
  const placeholders = ids.map((_, index) => `?${index + 2}`).join(', ');
  await db
    .prepare(`UPDATE otp_requests SET enqueued_at = ?1 WHERE id IN (${placeholders}) AND status IN ('queued', 'sending')`)
    .bind(now, ...ids)
    .run();
}

export interface StalledCheckQuery {
  /** Requests created at or before this are past caring about. */
  createdAfter: number;
  maxChecks: number;
  firstCheckDelayMs: number;
  grace: number;
  now: number;
  limit: number;
}

/**
 * `sent` requests still waiting for a final report whose next check is overdue by the grace: due
 * a fixed time after the send (the first) or after the previous check (its `next_check_seconds`).
 */
export async function stalledCheckRows(db: D1Database, query: StalledCheckQuery): Promise<Array<{ id: string; delivery_checks: number }>> {
  const { results } = await db
    .prepare(
      `SELECT r.id, r.delivery_checks FROM otp_requests r
       LEFT JOIN status_checks c ON c.request_id = r.id AND c.check_number = r.delivery_checks
       WHERE r.status = 'sent' AND r.created_at > ?1 AND r.provider_message_id IS NOT NULL
         AND (r.delivery_status IS NULL OR r.delivery_status = 'pending') AND r.delivery_checks < ?2
         AND CASE WHEN r.delivery_checks = 0 THEN r.sent_at + ?3
                  ELSE c.checked_at + c.duration_ms + c.next_check_seconds * 1000 END + ?4 <= ?5
       ORDER BY r.created_at LIMIT ?6`,
    )
    .bind(query.createdAfter, query.maxChecks, query.firstCheckDelayMs, query.grace, query.now, query.limit)
    .all<{ id: string; delivery_checks: number }>();
  return results;
}
