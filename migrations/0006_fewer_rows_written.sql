-- Fewer rows written per OTP (D1 bills every row and index entry written, $1 per million):
--
-- 1. `origin` is indexed for operator resends only, the rare value an operator filters for.
--    API-origin rows (nearly all) no longer write an index entry; a filter on them walks
--    otp_requests_created_id, which they fill almost entirely anyway.
-- 2. The audit tables get plain integer keys instead of AUTOINCREMENT, which also writes
--    SQLite's sqlite_sequence row on every insert. Ids stay unique and increasing while rows are
--    kept; retention deletes the oldest rows, never the newest, so ids are not handed out twice in
--    practice, and nothing depends on that beyond the keyset order (time first, id second).
--    SQLite cannot drop AUTOINCREMENT in place, so each table is rebuilt with its indexes.
-- 3. delivery_attempts keeps one time-ordered index, delivery_attempts_stats, which also holds
--    outcome and error_code: the operator listing filtered by either walks it newest first and
--    reads only the index until a page is full, instead of two more entries written per attempt.
PRAGMA defer_foreign_keys = true;

DROP INDEX otp_requests_origin_created_id;
CREATE INDEX otp_requests_operator_resend_created_id ON otp_requests (created_at, id) WHERE origin = 'operator_resend';

CREATE TABLE delivery_attempts_rebuilt (
  id                  INTEGER PRIMARY KEY,
  request_id          TEXT NOT NULL REFERENCES otp_requests (id),
  attempt_number      INTEGER NOT NULL,
  started_at          INTEGER NOT NULL,
  finished_at         INTEGER NOT NULL,
  duration_ms         INTEGER NOT NULL,
  outcome             TEXT NOT NULL CHECK (outcome IN ('sent', 'retry', 'failed', 'expired')),
  http_status         INTEGER,
  provider_message_id TEXT,
  error_code          TEXT,
  error_message       TEXT,
  retry_delay_seconds INTEGER,
  UNIQUE (request_id, attempt_number)
);
INSERT INTO delivery_attempts_rebuilt (id, request_id, attempt_number, started_at, finished_at, duration_ms, outcome,
    http_status, provider_message_id, error_code, error_message, retry_delay_seconds)
  SELECT id, request_id, attempt_number, started_at, finished_at, duration_ms, outcome,
    http_status, provider_message_id, error_code, error_message, retry_delay_seconds
  FROM delivery_attempts;
DROP TABLE delivery_attempts;
ALTER TABLE delivery_attempts_rebuilt RENAME TO delivery_attempts;
CREATE INDEX delivery_attempts_stats ON delivery_attempts (started_at, outcome, duration_ms, error_code);

CREATE TABLE status_checks_rebuilt (
  id                 INTEGER PRIMARY KEY,
  request_id         TEXT NOT NULL REFERENCES otp_requests (id),
  check_number       INTEGER NOT NULL,
  checked_at         INTEGER NOT NULL,
  duration_ms        INTEGER NOT NULL,
  http_status        INTEGER,
  provider_status    TEXT,
  outcome            TEXT NOT NULL CHECK (outcome IN ('delivered', 'failed', 'pending', 'error')),
  error_code         TEXT,
  error_message      TEXT,
  next_check_seconds INTEGER,
  UNIQUE (request_id, check_number)
);
INSERT INTO status_checks_rebuilt (id, request_id, check_number, checked_at, duration_ms, http_status, provider_status,
    outcome, error_code, error_message, next_check_seconds)
  SELECT id, request_id, check_number, checked_at, duration_ms, http_status, provider_status,
    outcome, error_code, error_message, next_check_seconds
  FROM status_checks;
DROP TABLE status_checks;
ALTER TABLE status_checks_rebuilt RENAME TO status_checks;
CREATE INDEX status_checks_checked ON status_checks (checked_at);

CREATE TABLE verification_events_rebuilt (
  id           INTEGER PRIMARY KEY,
  request_id   TEXT NOT NULL,
  phone_prefix TEXT NOT NULL,
  outcome      TEXT NOT NULL CHECK (outcome IN
                 ('verified', 'invalid_code', 'too_many_attempts', 'phone_locked', 'expired', 'already_verified', 'superseded')),
  at           INTEGER NOT NULL
);
INSERT INTO verification_events_rebuilt (id, request_id, phone_prefix, outcome, at)
  SELECT id, request_id, phone_prefix, outcome, at FROM verification_events;
DROP TABLE verification_events;
ALTER TABLE verification_events_rebuilt RENAME TO verification_events;
CREATE INDEX verification_events_at ON verification_events (at);
