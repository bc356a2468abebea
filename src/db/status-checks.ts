import { z } from 'zod';
import type { DeliveryStatus } from './requests';
import { requestEventStatement } from './webhook-events';

/** What one status check came to (`status_checks.outcome`). */
export const CHECK_RESULTS = ['delivered', 'failed', 'pending', 'error'] as const;
export type CheckResult = (typeof CHECK_RESULTS)[number];

export interface CheckPlan {
  result: CheckResult;
  /** What the request's delivery status becomes; `unknown` once no further check will be made. */
  deliveryStatus: DeliveryStatus;
  /** Delay of the next check, or null when this was the last one. */
  nextCheckSeconds: number | null;
  errorCode: string | null;
  errorMessage: string | null;
}

const CheckTarget = z.object({
  status: z.string(),
  provider_message_id: z.string().nullable(),
  delivery_status: z.string().nullable(),
  already_checked: z.number(),
  /** The provider that sent the message (NULL: sent before providers were recorded on requests). */
  sent_provider: z.string().nullable(),
  /** For the `auto` channel's fallback: what was asked, how it went out, whether it fell back already. */
  channel: z.string(),
  sent_channel: z.string().nullable(),
  sms_fallback_at: z.number().nullable(),
});
export type CheckTarget = z.infer<typeof CheckTarget>;

/** The request a status check is about, and whether this check number was already recorded. */
export async function readCheckTarget(db: D1Database, requestId: string, check: number): Promise<CheckTarget | null> {
  const row = await db
    .prepare(
      `SELECT r.status, r.provider_message_id, r.delivery_status, r.sent_provider, r.channel, r.sent_channel, r.sms_fallback_at,
              EXISTS (SELECT 1 FROM status_checks c WHERE c.request_id = r.id AND c.check_number = ?2) AS already_checked
       FROM otp_requests r WHERE r.id = ?1`,
    )
    .bind(requestId, check)
    .first();
  return row ? CheckTarget.parse(row) : null;
}

export interface CheckRecord {
  requestId: string;
  check: number;
  startedAt: number;
  finishedAt: number;
  httpStatus: number | null;
  providerStatus: string | null;
  /** When the provider says the SMS reached the phone, if it says. */
  deliveredAt: number | null;
  plan: CheckPlan;
}

/**
 * An `auto` request whose WhatsApp message was not delivered in time goes on by SMS: back in line
 * with the same code, its WhatsApp message forgotten (a later report of it changes nothing). Only
 * once, and only from `sent` (a request verified meanwhile needs no SMS).
 */
export function fallBackToSmsStatement(db: D1Database, change: { requestId: string; now: number }): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE otp_requests
       SET status = 'queued', sms_fallback_at = ?2, updated_at = ?2, lease_until = NULL, provider_message_id = NULL,
           delivery_status = NULL, enqueued_at = ?2
       WHERE id = ?1 AND status = 'sent' AND channel = 'auto' AND sent_channel = 'whatsapp' AND sms_fallback_at IS NULL`,
    )
    .bind(change.requestId, change.now);
}

/**
 * The audit row of one status check and what it changes on the request, as statements for one
 * batch. Only a `sent` request moves (to `delivered` or `failed`): one verified or superseded
 * meanwhile keeps its status, but still learns what the provider said about its SMS.
 */
export function recordStatusCheckStatements(db: D1Database, record: CheckRecord): D1PreparedStatement[] {
  const { plan } = record;
  return [
    db
      .prepare(
        `INSERT INTO status_checks (request_id, check_number, checked_at, duration_ms, http_status, provider_status, outcome,
           error_code, error_message, next_check_seconds)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (request_id, check_number) DO NOTHING`,
      )
      .bind(
        record.requestId,
        record.check,
        record.startedAt,
        record.finishedAt - record.startedAt,
        record.httpStatus,
        record.providerStatus,
        plan.result,
        plan.errorCode,
        plan.errorMessage,
        plan.nextCheckSeconds,
      ),
    db
      .prepare(
        `UPDATE otp_requests
         SET delivery_checks = MAX(delivery_checks, ?2),
             delivery_status = CASE WHEN delivery_status IN ('delivered', 'failed') THEN delivery_status ELSE ?3 END,
             delivered_at = CASE WHEN ?3 = 'delivered' AND delivered_at IS NULL THEN ?4 ELSE delivered_at END,
             status = CASE WHEN status = 'sent' AND ?3 IN ('delivered', 'failed') THEN ?3 ELSE status END,
             last_error_code = CASE WHEN status = 'sent' AND ?3 = 'failed' THEN ?5 ELSE last_error_code END,
             last_error_message = CASE WHEN status = 'sent' AND ?3 = 'failed' THEN ?6 ELSE last_error_message END,
             updated_at = ?7
         WHERE id = ?1`,
      )
      .bind(record.requestId, record.check, plan.deliveryStatus, record.deliveredAt ?? record.finishedAt, plan.errorCode, plan.errorMessage, record.finishedAt),
    // `otp.delivered` or `otp.failed` when the request just moved, for apps with a webhook.
    requestEventStatement(db, record.requestId, record.finishedAt),
  ];
}
