-- Verification: a per-request attempt counter (incremented atomically before each comparison)
-- and one row per verification outcome, which the pumping defence reads by destination prefix.
ALTER TABLE otp_requests ADD COLUMN verify_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE otp_requests ADD COLUMN verified_at INTEGER;

CREATE TABLE verification_events (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id   TEXT NOT NULL,
  phone_prefix TEXT NOT NULL,
  outcome      TEXT NOT NULL CHECK (outcome IN
                 ('verified', 'invalid_code', 'too_many_attempts', 'phone_locked', 'expired', 'already_verified', 'superseded')),
  at           INTEGER NOT NULL
);
CREATE INDEX verification_events_prefix_at ON verification_events (phone_prefix, at);
CREATE INDEX verification_events_at ON verification_events (at);
