-- Fewer D1 rows written per delivery attempt (D1 bills every row and index entry written, $1 per
-- million). An attempt wrote 3: its rowid row, the automatic index of UNIQUE (request_id,
-- attempt_number) and delivery_attempts_stats. It now writes 2:
--
-- 1. delivery_attempts becomes a WITHOUT ROWID table keyed by (request_id, attempt_number): the
--    key that was a second b-tree is the table itself. ON CONFLICT (request_id, attempt_number)
--    finds the primary key as it found the unique index; a request's attempts are a range of it.
-- 2. id stays, as an ordinary column: it is the admin API's attemptId and the tie-breaker of the
--    listing's keyset (started_at, id). Existing rows keep theirs. With no rowid to hand ids out,
--    each INSERT assigns its own (newAttemptIdSql in src/db/delivery-attempts.ts): started_at * 1024,
--    or one more than the highest id of that millisecond, read through delivery_attempts_stats. Ids
--    stay unique and ordered by start time, far below 2^53 and above every rowid handed out before.
-- 3. delivery_attempts_stats is recreated unchanged; in a WITHOUT ROWID table its entries carry the
--    key columns instead of the rowid. The column order is kept, so `SELECT *` reads the same rows.
--
-- The code that names the id writes to the old table as well, but the code before it names no id,
-- which the new table refuses (NOT NULL). Between this migration and the deploy (`npm run deploy`
-- runs one after the other), an outcome the previous code fails to write goes to the queue as a
-- record_attempts message and is written by a later retry; a request for an app's test number
-- made in that window fails and can be asked for again.
--
-- Nothing references delivery_attempts, so the table is rebuilt aside and renamed into place; its
-- own reference to otp_requests is checked at the end of the transaction.
PRAGMA defer_foreign_keys = true;

CREATE TABLE delivery_attempts_rebuilt (
  id                  INTEGER NOT NULL,
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
  provider            TEXT,
  channel             TEXT,
  ambiguous           INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (request_id, attempt_number)
) WITHOUT ROWID;
INSERT INTO delivery_attempts_rebuilt (id, request_id, attempt_number, started_at, finished_at, duration_ms, outcome,
    http_status, provider_message_id, error_code, error_message, retry_delay_seconds, provider, channel, ambiguous)
  SELECT id, request_id, attempt_number, started_at, finished_at, duration_ms, outcome,
    http_status, provider_message_id, error_code, error_message, retry_delay_seconds, provider, channel, ambiguous
  FROM delivery_attempts;
DROP TABLE delivery_attempts;
ALTER TABLE delivery_attempts_rebuilt RENAME TO delivery_attempts;
CREATE INDEX delivery_attempts_stats ON delivery_attempts (started_at, outcome, duration_ms, error_code);
