import { type AttemptRecord, recordAttemptStatements } from './delivery-store';

/**
 * The outcome of a provider call written long after the call, from the dead-letter queue: D1
 * failed for as long as `otp-send` retried its `record_attempts` message. The normal statements
 * (`recordAttemptStatements`) write the audit row once and change the request only while it is
 * `sending`; in the meantime its lease has long lapsed, so two things may have happened to it:
 *
 * - It was claimed again (`claimRequests` counts each claim in `attempts`): that newer claim owns
 *   it. A late `retry`, `fail` or `expire` must not end it or clear its lease, so for the length of
 *   this transaction the request is held out of `sending` and only the audit row is written. The
 *   hold is recognised on release by its lease: only a `sending` request has one.
 * - An SMS that went out counts as sent: a late `sent` also ends a request that was put back in
 *   line (`queued`) or ended `expired` meanwhile (the sweeper ends a `sending` request whose code
 *   expired without knowing whether its SMS went out). A request that moved on otherwise
 *   (`sent`, `delivered`, `verified`, `failed` on a provider's answer, `superseded` by a newer code)
 *   keeps its state; the audit row is written all the same.
 */
export function lateAttemptStatements(db: D1Database, attempt: AttemptRecord): D1PreparedStatement[] {
  const recorded = recordAttemptStatements(db, attempt);
  if (attempt.decision.action === 'sent') {
    return [
      ...recorded,
      db
        .prepare(
          `UPDATE otp_requests
           SET status = 'sent', updated_at = MAX(updated_at, ?2), lease_until = NULL, sent_at = ?2,
               provider_message_id = COALESCE(?3, provider_message_id), last_error_code = NULL, last_error_message = NULL
           WHERE id = ?1 AND status IN ('queued', 'sending', 'expired')`,
        )
        .bind(attempt.requestId, attempt.finishedAt, attempt.decision.messageId),
    ];
  }
  return [
    db
      .prepare(`UPDATE otp_requests SET status = 'queued' WHERE id = ?1 AND status = 'sending' AND attempts > ?2`)
      .bind(attempt.requestId, attempt.attemptNumber),
    ...recorded,
    db
      .prepare(
        `UPDATE otp_requests SET status = 'sending'
         WHERE id = ?1 AND status = 'queued' AND attempts > ?2 AND lease_until IS NOT NULL`,
      )
      .bind(attempt.requestId, attempt.attemptNumber),
  ];
}
