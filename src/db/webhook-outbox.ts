import { EVENT_RETRY_WINDOW_MS } from './webhook-events';
import { ACTIVE_WEBHOOK } from './webhooks';

/**
 * The sweeper's reads and writes of webhook events (see `cron/webhook-sweep.ts`): jobs that never
 * reached the queue or were lost, and the `otp.expired` events that fall due. Each query names the
 * `webhook_events_due` index's own condition, so SQLite reads through it.
 */

const DUE = `state IN ('scheduled', 'pending')`;

/**
 * Pending events with no sign of life for `grace` past the moment their attempt was due: their
 * job never reached the queue (the enqueue after their change failed) or was lost.
 */
export async function stalledEventIds(db: D1Database, now: number, grace: number, limit: number): Promise<string[]> {
  const { results } = await db
    .prepare(
      `SELECT id FROM webhook_events
       WHERE ${DUE} AND state = 'pending' AND next_attempt_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)
       ORDER BY next_attempt_at LIMIT ?2`,
    )
    .bind(now - grace, limit)
    .all<{ id: string }>();
  return results.map((row) => row.id);
}

/** Starts the grace afresh for events just enqueued again (at most 99 ids). */
export async function markEventsReenqueued(db: D1Database, ids: readonly string[], now: number): Promise<void> {
  const placeholders = ids.map((_, index) => `?${index + 2}`).join(', ');
  await db
    .prepare(`UPDATE webhook_events SET next_attempt_at = ?1 WHERE id IN (${placeholders}) AND state = 'pending'`)
    .bind(now, ...ids)
    .run();
}

/**
 * The scheduled `otp.expired` events whose time came: those whose code is still unverified (its
 * request `sent` or `delivered`) and whose app's webhook still takes them become pending and are
 * answered for enqueueing; the others (verified, failed, superseded meanwhile) are dropped.
 */
export function dueExpiryStatements(db: D1Database, now: number, limit: number): D1PreparedStatement[] {
  const due = `SELECT id FROM webhook_events WHERE ${DUE} AND state = 'scheduled' AND next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT ?2`;
  return [
    db
      .prepare(
        `UPDATE webhook_events SET state = 'pending', next_attempt_at = ?1, retry_until = ?1 + ${EVENT_RETRY_WINDOW_MS}
         WHERE id IN (${due})
           AND EXISTS (SELECT 1 FROM otp_requests r WHERE r.id = webhook_events.request_id AND r.status IN ('sent', 'delivered'))
           AND EXISTS (SELECT 1 FROM webhooks w WHERE w.app_id = webhook_events.app_id AND ${ACTIVE_WEBHOOK} AND (w.event_mask & 8) != 0)
         RETURNING id AS webhook_event_id`,
      )
      .bind(now, limit),
    db.prepare(`DELETE FROM webhook_events WHERE id IN (${due})`).bind(now, limit),
  ];
}
