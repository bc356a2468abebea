/** One dead letter kept with its reason (never the message body, which may hold data). */
export function deadLetterStatement(db: D1Database, messageId: string, requestId: string | null, reason: string, now: number): D1PreparedStatement {
  return db.prepare('INSERT INTO dead_letters (message_id, request_id, reason, received_at) VALUES (?1, ?2, ?3, ?4)').bind(messageId, requestId, reason, now);
}

/** Ends a request whose send job ran out of retries, unless it moved on meanwhile. */
export function failExhaustedSendStatement(db: D1Database, requestId: string, now: number): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE otp_requests
       SET status = 'failed', updated_at = ?1, lease_until = NULL, last_error_code = 'retries_exhausted',
           last_error_message = COALESCE(last_error_code || ': ', '') || 'gave up after ' || attempts || ' attempt(s)'
       WHERE id = ?2 AND status IN ('queued', 'sending')`,
    )
    .bind(now, requestId);
}
