export type VerificationOutcome = 'verified' | 'invalid_code' | 'too_many_attempts' | 'phone_locked' | 'expired' | 'already_verified' | 'superseded';

/** One verification outcome, by destination prefix and time: the conversion signal abuse defence reads. */
export function verificationEventStatement(
  db: D1Database,
  event: { requestId: string; phonePrefix: string; outcome: VerificationOutcome; at: number },
): D1PreparedStatement {
  return db
    .prepare('INSERT INTO verification_events (request_id, phone_prefix, outcome, at) VALUES (?1, ?2, ?3, ?4)')
    .bind(event.requestId, event.phonePrefix, event.outcome, event.at);
}
