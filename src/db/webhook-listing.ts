import { z } from 'zod';
import { WEBHOOK_ATTEMPT_OUTCOMES, WEBHOOK_EVENT_STATES } from './webhook-delivery';
import { EVENT_RETRY_WINDOW_MS } from './webhook-events';
import { WEBHOOK_EVENT_TYPES } from './webhooks';

/**
 * What operators read and do with an app's webhook deliveries: its events newest first (keyset
 * pages on (occurred_at, id)), one event's attempts, and redelivery. A scheduled `otp.expired` has
 * not happened yet and is never listed.
 */

export const WebhookEventRow = z.object({
  id: z.string(),
  app_id: z.string(),
  request_id: z.string(),
  type: z.enum(WEBHOOK_EVENT_TYPES),
  error_code: z.string().nullable(),
  occurred_at: z.number(),
  state: z.enum(WEBHOOK_EVENT_STATES),
  attempts: z.number(),
  round_attempts: z.number(),
  next_attempt_at: z.number(),
  retry_until: z.number(),
  lease_until: z.number().nullable(),
  last_attempt_at: z.number().nullable(),
  last_error_code: z.string().nullable(),
  delivered_at: z.number().nullable(),
});
export type WebhookEventRow = z.infer<typeof WebhookEventRow>;

export type ListedState = 'pending' | 'delivered' | 'failed';

export async function listWebhookEvents(
  db: D1Database,
  appId: string,
  filter: { state?: ListedState },
  page: { after: { at: number; id: string } | null; limit: number },
): Promise<WebhookEventRow[]> {
  const conditions = ['app_id = ?1', "state != 'scheduled'"];
  const params: unknown[] = [appId, page.limit];
  // A literal, not a parameter: only a literal lets SQLite read failed events through their partial index.
  if (filter.state) conditions.push(`state = '${filter.state}'`);
  if (page.after) {
    params.push(page.after.at, page.after.id);
    conditions.push('(occurred_at, id) < (?3, ?4)');
  }
  const { results } = await db
    .prepare(`SELECT * FROM webhook_events WHERE ${conditions.join(' AND ')} ORDER BY occurred_at DESC, id DESC LIMIT ?2`)
    .bind(...params)
    .all();
  return results.map((row) => WebhookEventRow.parse(row));
}

export async function getWebhookEvent(db: D1Database, appId: string, eventId: string): Promise<WebhookEventRow | null> {
  const row = await db.prepare("SELECT * FROM webhook_events WHERE id = ?1 AND app_id = ?2 AND state != 'scheduled'").bind(eventId, appId).first();
  return row ? WebhookEventRow.parse(row) : null;
}

export const WebhookAttemptRow = z.object({
  attempt_number: z.number(),
  started_at: z.number(),
  duration_ms: z.number(),
  outcome: z.enum(WEBHOOK_ATTEMPT_OUTCOMES),
  http_status: z.number().nullable(),
  error_code: z.string().nullable(),
  error_message: z.string().nullable(),
  retry_delay_seconds: z.number().nullable(),
});
export type WebhookAttemptRow = z.infer<typeof WebhookAttemptRow>;

export async function listWebhookAttempts(db: D1Database, eventId: string): Promise<WebhookAttemptRow[]> {
  const { results } = await db
    .prepare(
      `SELECT attempt_number, started_at, duration_ms, outcome, http_status, error_code, error_message, retry_delay_seconds
       FROM webhook_attempts WHERE event_id = ?1 ORDER BY attempt_number`,
    )
    .bind(eventId)
    .all();
  return results.map((row) => WebhookAttemptRow.parse(row));
}

/** Events redelivered at once by "redeliver every failed one"; an operator calls again for more. */
export const REDELIVER_MAX_EVENTS = 500;

const REDELIVER_SET = `state = 'pending', round_attempts = 0, next_attempt_at = ?1, retry_until = ?1 + ${EVENT_RETRY_WINDOW_MS}, lease_until = NULL`;

/**
 * Puts one event back in line, whatever it came to (a receiver that lost a delivered event may ask
 * for it again), unless an attempt of it is under way. Retried as a new event is: for a day, the
 * backoff starting over.
 */
export function redeliverEventStatement(db: D1Database, appId: string, eventId: string, now: number): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE webhook_events SET ${REDELIVER_SET}
       WHERE id = ?2 AND app_id = ?3 AND state != 'scheduled' AND (lease_until IS NULL OR lease_until <= ?1)
       RETURNING id AS webhook_event_id`,
    )
    .bind(now, eventId, appId);
}

/** Puts an app's failed events back in line, oldest first, at most REDELIVER_MAX_EVENTS. */
export function redeliverFailedStatement(db: D1Database, appId: string, now: number): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE webhook_events SET ${REDELIVER_SET}
       WHERE id IN (SELECT id FROM webhook_events WHERE app_id = ?2 AND state = 'failed' ORDER BY occurred_at, id LIMIT ${REDELIVER_MAX_EVENTS})
       RETURNING id AS webhook_event_id`,
    )
    .bind(now, appId);
}
