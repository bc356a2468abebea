/**
 * The outcomes recorded: every failed one. A success is not (it cost two rows written per OTP, and
 * nothing reads it): the request row holds it (`status`, `verified_at`). Rows written before keep
 * their `verified` outcome, which the table's CHECK still allows.
 */
export type VerificationOutcome = 'invalid_code' | 'too_many_attempts' | 'phone_locked' | 'expired' | 'already_verified' | 'superseded';

/** One failed verification, by destination prefix and time, for the audit and retention. */
export function verificationEventStatement(
  db: D1Database,
  event: { requestId: string; phonePrefix: string; outcome: VerificationOutcome; at: number },
): D1PreparedStatement {
  return db
    .prepare('INSERT INTO verification_events (request_id, phone_prefix, outcome, at) VALUES (?1, ?2, ?3, ?4)')
    .bind(event.requestId, event.phonePrefix, event.outcome, event.at);
}
