import type { WebhookAttemptRow, WebhookEventRow } from '../db/webhook-listing';
import { eventTypesOf, type WebhookRow } from '../db/webhooks';

/** What operators see of a webhook and its deliveries: ISO times, camelCase, never a secret. */

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function webhookView(row: WebhookRow & { url: string }) {
  return {
    url: row.url,
    events: eventTypesOf(row.event_mask),
    includePhoneNumber: row.include_phone_number === 1,
    secretVersion: row.secret_version,
    previousSecretUntil: iso(row.previous_secret_until),
    activeSince: iso(row.active_since),
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
    disabledAt: iso(row.disabled_at),
    disabledReason: row.disabled_reason,
  };
}

export function webhookDeliveryView(row: WebhookEventRow) {
  const pending = row.state === 'pending';
  return {
    eventId: row.id,
    type: row.type,
    requestId: row.request_id,
    occurredAt: iso(row.occurred_at)!,
    errorCode: row.error_code,
    state: row.state as Exclude<WebhookEventRow['state'], 'scheduled'>,
    attempts: row.attempts,
    lastAttemptAt: iso(row.last_attempt_at),
    lastErrorCode: row.last_error_code,
    nextAttemptAt: pending ? iso(row.next_attempt_at) : null,
    retryUntil: pending ? iso(row.retry_until) : null,
    deliveredAt: iso(row.delivered_at),
  };
}

export function webhookAttemptView(row: WebhookAttemptRow) {
  return {
    attemptNumber: row.attempt_number,
    startedAt: iso(row.started_at)!,
    durationMs: row.duration_ms,
    outcome: row.outcome,
    httpStatus: row.http_status,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    retryDelaySeconds: row.retry_delay_seconds,
  };
}
