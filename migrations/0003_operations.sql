-- Operations: delivery reports, bulk resends, and the indexes the admin API and stats read through.

-- Delivery reports. `status` keeps the request's life cycle (sent → delivered, or failed);
-- `delivery_status` keeps what the provider said about the SMS even when the request moved on
-- (verified or superseded before the report came).
ALTER TABLE otp_requests ADD COLUMN delivery_status TEXT CHECK (delivery_status IN ('pending', 'delivered', 'failed', 'unknown'));
ALTER TABLE otp_requests ADD COLUMN delivered_at INTEGER;
ALTER TABLE otp_requests ADD COLUMN delivery_checks INTEGER NOT NULL DEFAULT 0;
-- The bulk resend that created this request (origin = 'operator_resend').
ALTER TABLE otp_requests ADD COLUMN resend_id TEXT;

-- Every provider status check (GET /messages/:messageId), one row each.
CREATE TABLE status_checks (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id        TEXT NOT NULL REFERENCES otp_requests (id),
  check_number      INTEGER NOT NULL,
  checked_at        INTEGER NOT NULL,
  duration_ms       INTEGER NOT NULL,
  http_status       INTEGER,
  provider_status   TEXT,
  outcome           TEXT NOT NULL CHECK (outcome IN ('delivered', 'failed', 'pending', 'error')),
  error_code        TEXT,
  error_message     TEXT,
  next_check_seconds INTEGER,
  UNIQUE (request_id, check_number)
);
CREATE INDEX status_checks_checked ON status_checks (checked_at);

-- Bulk resends: the filter, progress through its matches (keyset cursor) and counters.
CREATE TABLE resend_jobs (
  id                     TEXT PRIMARY KEY,
  created_at             INTEGER NOT NULL,
  updated_at             INTEGER NOT NULL,
  finished_at            INTEGER,
  filter_json            TEXT NOT NULL,
  since                  INTEGER NOT NULL,
  until                  INTEGER NOT NULL,
  matched                INTEGER NOT NULL,
  chunks_done            INTEGER NOT NULL DEFAULT 0,
  cursor_created_at      INTEGER,
  cursor_id              TEXT,
  enqueued               INTEGER NOT NULL DEFAULT 0,
  skipped_verified       INTEGER NOT NULL DEFAULT 0,
  skipped_newer_request  INTEGER NOT NULL DEFAULT 0,
  skipped_daily_cap      INTEGER NOT NULL DEFAULT 0,
  skipped_prefix_blocked INTEGER NOT NULL DEFAULT 0,
  skipped_duplicate      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX resend_jobs_created ON resend_jobs (created_at);
CREATE INDEX resend_jobs_unfinished ON resend_jobs (updated_at) WHERE finished_at IS NULL;

-- One row per processed page of a resend's matches. Its key makes a second copy of the same
-- fan-out step fail its whole D1 batch, so no page is ever processed twice.
CREATE TABLE resend_chunks (
  resend_id    TEXT NOT NULL,
  chunk_number INTEGER NOT NULL,
  processed_at INTEGER NOT NULL,
  matched      INTEGER NOT NULL,
  enqueued     INTEGER NOT NULL,
  PRIMARY KEY (resend_id, chunk_number)
);

-- One new request per phone per resend, enforced by the database.
CREATE UNIQUE INDEX otp_requests_resend_phone ON otp_requests (resend_id, phone_number) WHERE resend_id IS NOT NULL;

-- Admin filters with keyset pagination on (created_at, id). These replace the single-column
-- versions of 0001, which they cover.
DROP INDEX otp_requests_created;
DROP INDEX otp_requests_status_created;
DROP INDEX otp_requests_phone_created;
CREATE INDEX otp_requests_created_id ON otp_requests (created_at, id);
CREATE INDEX otp_requests_status_created_id ON otp_requests (status, created_at, id);
CREATE INDEX otp_requests_phone_created_id ON otp_requests (phone_number, created_at, id);
CREATE INDEX otp_requests_error_created_id ON otp_requests (last_error_code, created_at, id) WHERE last_error_code IS NOT NULL;
CREATE INDEX otp_requests_origin_created_id ON otp_requests (origin, created_at, id);
CREATE INDEX otp_requests_replaces ON otp_requests (replaces_request_id) WHERE replaces_request_id IS NOT NULL;
CREATE INDEX otp_requests_verified_phone ON otp_requests (phone_number, verified_at) WHERE verified_at IS NOT NULL;

-- Stats: covering indexes, so counting a time range never reads the tables themselves.
CREATE INDEX otp_requests_stats ON otp_requests (created_at, status, origin, phone_prefix, attempts, delivery_status, sent_at);
CREATE INDEX delivery_attempts_stats ON delivery_attempts (started_at, outcome, duration_ms, error_code);
