import { z } from 'zod';

/**
 * `webhooks`: one row per app that ever had a webhook. A removed webhook keeps its row with no
 * URL, so the next one gets the next secret version (the secret itself is never stored).
 */

/** The event types, each with its bit in `event_mask` and the request status it reports. */
export const WEBHOOK_EVENT_TYPES = ['otp.sent', 'otp.delivered', 'otp.failed', 'otp.expired', 'otp.verified'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
export const EVENT_BITS: Record<WebhookEventType, number> = { 'otp.sent': 1, 'otp.delivered': 2, 'otp.failed': 4, 'otp.expired': 8, 'otp.verified': 16 };
export const ALL_EVENTS_MASK = 31;

export function eventMask(types: readonly WebhookEventType[]): number {
  return types.reduce((mask, type) => mask | EVENT_BITS[type], 0);
}

export function eventTypesOf(mask: number): WebhookEventType[] {
  return WEBHOOK_EVENT_TYPES.filter((type) => (mask & EVENT_BITS[type]) !== 0);
}

/** A SQL condition on `webhooks w`: the webhook is set and not disabled. */
export const ACTIVE_WEBHOOK = 'w.url IS NOT NULL AND w.disabled_at IS NULL';

export const WebhookRow = z.object({
  app_id: z.string(),
  url: z.string().nullable(),
  event_mask: z.number().int(),
  include_phone_number: z.number().int(),
  secret_version: z.number().int(),
  previous_secret_until: z.number().nullable(),
  active_since: z.number().nullable(),
  created_at: z.number(),
  updated_at: z.number(),
  disabled_at: z.number().nullable(),
  disabled_reason: z.string().nullable(),
});
export type WebhookRow = z.infer<typeof WebhookRow>;

export async function getWebhook(db: D1Database, appId: string): Promise<WebhookRow | null> {
  const row = await db.prepare('SELECT * FROM webhooks WHERE app_id = ?1').bind(appId).first();
  return row ? WebhookRow.parse(row) : null;
}

export interface WebhookFields {
  url: string;
  eventMask: number;
  includePhoneNumber: boolean;
}

/**
 * Sets an app's webhook that had none (never, or removed): written with `secretVersion`, the one
 * after the row's last, and only if the row is still as read (no URL, that version), so two
 * operators setting it at once cannot both hand out a secret.
 */
export function setNewWebhookStatement(db: D1Database, appId: string, fields: WebhookFields, secretVersion: number, now: number): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO webhooks (app_id, url, event_mask, include_phone_number, secret_version, active_since, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6)
       ON CONFLICT (app_id) DO UPDATE SET url = ?2, event_mask = ?3, include_phone_number = ?4, secret_version = ?5,
         previous_secret_until = NULL, active_since = ?6, updated_at = ?6, disabled_at = NULL, disabled_reason = NULL
       WHERE webhooks.url IS NULL AND webhooks.secret_version = ?5 - 1`,
    )
    .bind(appId, fields.url, fields.eventMask, fields.includePhoneNumber ? 1 : 0, secretVersion, now);
}

/** Changes a set webhook; a disabled one is enabled again, and sends the events that happen from now. */
export function updateWebhookStatement(db: D1Database, appId: string, fields: WebhookFields, now: number): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE webhooks SET url = ?2, event_mask = ?3, include_phone_number = ?4, updated_at = ?5,
         active_since = CASE WHEN disabled_at IS NULL THEN active_since ELSE ?5 END, disabled_at = NULL, disabled_reason = NULL
       WHERE app_id = ?1 AND url IS NOT NULL`,
    )
    .bind(appId, fields.url, fields.eventMask, fields.includePhoneNumber ? 1 : 0, now);
}

export function removeWebhookStatement(db: D1Database, appId: string, now: number): D1PreparedStatement {
  return db
    .prepare('UPDATE webhooks SET url = NULL, previous_secret_until = NULL, active_since = NULL, updated_at = ?2 WHERE app_id = ?1 AND url IS NOT NULL')
    .bind(appId, now);
}

/** The next secret version; the one it replaces keeps signing until `previousUntil` (null: not at all). */
export function rotateSecretStatement(db: D1Database, appId: string, fromVersion: number, previousUntil: number | null, now: number): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE webhooks SET secret_version = ?2 + 1, previous_secret_until = ?3, updated_at = ?4
       WHERE app_id = ?1 AND url IS NOT NULL AND secret_version = ?2`,
    )
    .bind(appId, fromVersion, previousUntil, now);
}

/** The receiver answered 410 Gone: nothing more is sent (or written) until an operator sets the webhook again. */
export function disableWebhookStatement(db: D1Database, appId: string, reason: string, now: number): D1PreparedStatement {
  return db
    .prepare('UPDATE webhooks SET disabled_at = ?2, disabled_reason = ?3, updated_at = ?2 WHERE app_id = ?1 AND url IS NOT NULL AND disabled_at IS NULL')
    .bind(appId, now, reason);
}
