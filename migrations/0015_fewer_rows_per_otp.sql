-- Fewer D1 rows written per OTP (issue 16; D1 bills every row and index entry written, $1 per
-- million). A successful OTP wrote 18; this brings otp_requests' share from 13 to 7:
--
-- 1. otp_requests becomes a WITHOUT ROWID table: its text primary key is the table itself instead
--    of a second b-tree (sqlite_autoindex_otp_requests_1) written on every insert. Nothing reads
--    otp_requests' rowid. Same columns, order, defaults, CHECKs and rows; SQLite cannot change this
--    in place, so the table is rebuilt with every index it had (other than the two below).
-- 2. otp_requests_status_created_id indexed every status, so every status change (queued, sending,
--    sent, verified) wrote an entry. It becomes otp_requests_unsuccessful_created_id, over the two
--    statuses operators look for that stay rare: `failed` and `expired` (a code that ran out after
--    it was sent stays `sent`; only one never sent becomes `expired`). The happy path writes no
--    entry. Waiting requests (queued, sending) are found by the sweeper through
--    otp_requests_created_id within the longest code lifetime (src/db/stalled-work.ts); a listing
--    of common statuses walks the time index, which they fill a page of quickly.
-- 3. otp_requests_verified_phone is dropped: its one reader (a resend's "verified since" check)
--    reads the phone's few rows through otp_requests_phone_created_id instead. A verification
--    writes the row only.
--
-- delivery_attempts and status_checks reference otp_requests, so the table is not renamed into
-- place (a rename would repoint their references): its rows are copied aside, the table is dropped
-- and created again under its own name, and the rows come back. With foreign keys deferred, the
-- drop counts their rows as orphaned until the same rows are back, all in one transaction.
PRAGMA defer_foreign_keys = true;

CREATE TABLE otp_requests_copy AS SELECT * FROM otp_requests;
DROP TABLE otp_requests;

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
  last_error_message  TEXT,
  verify_attempts     INTEGER NOT NULL DEFAULT 0,
  verified_at         INTEGER,
  delivery_status     TEXT CHECK (delivery_status IN ('pending', 'delivered', 'failed', 'unknown')),
  delivered_at        INTEGER,
  delivery_checks     INTEGER NOT NULL DEFAULT 0,
  resend_id           TEXT,
  app_id              TEXT,
  code_length         INTEGER,
  test_number         INTEGER NOT NULL DEFAULT 0,
  channel             TEXT NOT NULL DEFAULT 'sms',
  sent_provider       TEXT,
  sent_channel        TEXT,
  sms_fallback_at     INTEGER
) WITHOUT ROWID;
INSERT INTO otp_requests (id, phone_number, phone_prefix, status, origin, replaces_request_id, created_at, updated_at,
    expires_at, attempts, lease_until, enqueued_at, sent_at, provider_message_id, last_error_code, last_error_message,
    verify_attempts, verified_at, delivery_status, delivered_at, delivery_checks, resend_id, app_id, code_length, test_number,
    channel, sent_provider, sent_channel, sms_fallback_at)
  SELECT id, phone_number, phone_prefix, status, origin, replaces_request_id, created_at, updated_at,
    expires_at, attempts, lease_until, enqueued_at, sent_at, provider_message_id, last_error_code, last_error_message,
    verify_attempts, verified_at, delivery_status, delivered_at, delivery_checks, resend_id, app_id, code_length, test_number,
    channel, sent_provider, sent_channel, sms_fallback_at
  FROM otp_requests_copy;
DROP TABLE otp_requests_copy;

CREATE INDEX otp_requests_created_id ON otp_requests (created_at, id);
CREATE INDEX otp_requests_unsuccessful_created_id ON otp_requests (status, created_at, id) WHERE status IN ('failed', 'expired');
CREATE INDEX otp_requests_phone_created_id ON otp_requests (phone_number, created_at, id);
CREATE INDEX otp_requests_error_created_id ON otp_requests (last_error_code, created_at, id) WHERE last_error_code IS NOT NULL;
CREATE INDEX otp_requests_replaces ON otp_requests (replaces_request_id) WHERE replaces_request_id IS NOT NULL;
CREATE INDEX otp_requests_operator_resend_created_id ON otp_requests (created_at, id) WHERE origin = 'operator_resend';
CREATE INDEX otp_requests_app_created_id ON otp_requests (app_id, created_at, id) WHERE app_id IS NOT NULL;
CREATE UNIQUE INDEX otp_requests_resend_app_phone
  ON otp_requests (resend_id, COALESCE(app_id, ''), phone_number) WHERE resend_id IS NOT NULL;
