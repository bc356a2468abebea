-- One row per OTP request. The code is never stored: it is derived from the id.
CREATE TABLE otp_requests (
  id                  TEXT PRIMARY KEY,
  phone_number        TEXT NOT NULL,
  phone_prefix        TEXT NOT NULL,
  status              TEXT NOT NULL CHECK (status IN
                        ('queued', 'sending', 'sent', 'delivered', 'failed', 'expired', 'verified', 'superseded')),
  origin              TEXT NOT NULL DEFAULT 'api' CHECK (origin IN ('api', 'operator_resend')),
  replaces_request_id TEXT,
  created_at          INTEGER NOT NULL,  -- epoch milliseconds, like every time column here
  updated_at          INTEGER NOT NULL,
  expires_at          INTEGER NOT NULL,
  attempts            INTEGER NOT NULL DEFAULT 0,
  -- While a consumer holds the lease, no other copy of the job may call the provider.
  lease_until         INTEGER,
  enqueued_at         INTEGER,
  sent_at             INTEGER,
  provider_message_id TEXT,
  last_error_code     TEXT,
  last_error_message  TEXT
);
CREATE INDEX otp_requests_phone_created ON otp_requests (phone_number, created_at DESC);
CREATE INDEX otp_requests_status_created ON otp_requests (status, created_at DESC);
CREATE INDEX otp_requests_created ON otp_requests (created_at DESC);

-- Every call made to the provider, one row each, written by the consumer.
CREATE TABLE delivery_attempts (
  id                  INTEGER PRIMARY KEY AUTOINCREMENT,
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
CREATE INDEX delivery_attempts_started ON delivery_attempts (started_at DESC);
CREATE INDEX delivery_attempts_outcome_started ON delivery_attempts (outcome, started_at DESC);
CREATE INDEX delivery_attempts_error_started ON delivery_attempts (error_code, started_at DESC);

-- Client Idempotency-Key values of POST /v1/otp, kept 24 hours.
CREATE TABLE idempotency_keys (
  key         TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  request_id  TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Queue messages that could not be processed, with the reason (never the body: it may hold data).
CREATE TABLE dead_letters (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id  TEXT NOT NULL,
  request_id  TEXT,
  reason      TEXT NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE INDEX dead_letters_received ON dead_letters (received_at DESC);

-- What the sandbox provider "sent". Only written in PROVIDER_MODE=sandbox.
CREATE TABLE sandbox_messages (
  idempotency_key TEXT PRIMARY KEY,
  message_id      TEXT NOT NULL,
  request_id      TEXT NOT NULL,
  phone_number    TEXT NOT NULL,
  created_at      INTEGER NOT NULL
);
CREATE INDEX sandbox_messages_created ON sandbox_messages (created_at DESC);
