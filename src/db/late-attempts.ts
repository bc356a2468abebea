import { type AttemptRecord, recordAttemptStatements } from './delivery-attempts';

/**
 * The outcome of a provider call written long after the call, from the dead-letter queue: D1
 * failed for as long as `otp-send` retried its `record_attempts` message. The normal statements
 * (`recordAttemptStatements`) write the audit row once and change the request only while it is
 * `sending` under this attempt's claim. Meanwhile its lease has long lapsed, so:
 *
 * - If it was claimed again, that newer claim owns it: a late `retry`, `fail` or `expire` writes
 *   only its audit row (the normal statements already see to that).
 * - An SMS that went out counts as sent: a late `sent` also ends a request that was put back in
 *   line (`queued`), claimed again (`sending`; the newer call reuses the idempotency key, so the
 *   provider sends nothing twice) or ended `expired` meanwhile (the sweeper ends a `sending`
 *   request whose code expired without knowing whether its SMS went out). A request that moved on
 *   otherwise (`sent`, `delivered`, `verified`, `failed` on a provider's answer, `superseded` by a
 *   newer code) keeps its state; the audit row is written all the same.
 */
export function lateAttemptStatements(db: D1Database, attempt: AttemptRecord): D1PreparedStatement[] {
  const recorded = recordAttemptStatements(db, attempt);
  if (attempt.decision.action !== 'sent') return recorded;
  // The audit row and the webhook event as usual; the request update is a wider one that covers the usual case too.
  const [auditRow, , webhookEvent] = recorded;
  return [
    auditRow!,
    db
      .prepare(
        `UPDATE otp_requests
         SET status = 'sent', updated_at = MAX(updated_at, ?2), lease_until = NULL, sent_at = ?2,
             provider_message_id = COALESCE(?3, provider_message_id), last_error_code = NULL, last_error_message = NULL,
             sent_provider = ?4, sent_channel = ?5
         WHERE id = ?1 AND status IN ('queued', 'sending', 'expired')`,
      )
      .bind(attempt.requestId, attempt.finishedAt, attempt.decision.messageId, attempt.provider ?? null, attempt.channel ?? 'sms'),
    webhookEvent!,
  ];
}
