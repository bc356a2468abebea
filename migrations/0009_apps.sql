-- Apps: the callers of the API. Each has settings overriding the deployment's defaults and keys
-- (secret keys for its backend, publishable keys for browsers). A key is stored only as the
-- SHA-256 of its full text, with a short visible prefix so operators can tell keys apart.
CREATE TABLE apps (
  id            TEXT PRIMARY KEY,        -- app_…
  name          TEXT NOT NULL,
  settings_json TEXT NOT NULL DEFAULT '{}',
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  disabled_at   INTEGER                  -- a disabled app's keys all stop working
);

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,         -- key_…
  app_id       TEXT NOT NULL REFERENCES apps (id),
  kind         TEXT NOT NULL CHECK (kind IN ('secret', 'publishable')),
  key_hash     TEXT NOT NULL UNIQUE,     -- hex SHA-256 of the whole key; the key itself is shown once
  prefix       TEXT NOT NULL,            -- the first characters of the key, for recognising it
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER,                  -- set by a rotation: the old key works until then
  revoked_at   INTEGER,
  replaced_by  TEXT,                     -- the key a rotation made
  last_used_at INTEGER                   -- written at most once a minute per key and isolate
);
CREATE INDEX api_keys_app_created ON api_keys (app_id, created_at);

-- Every change an operator makes to an app or its keys: who, when, what (never a key).
CREATE TABLE app_changes (
  id          INTEGER PRIMARY KEY,
  app_id      TEXT NOT NULL,
  at          INTEGER NOT NULL,
  actor       TEXT NOT NULL,
  action      TEXT NOT NULL,
  detail_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX app_changes_app_at ON app_changes (app_id, at);

-- Every request belongs to the app whose key asked for it (NULL: recorded before apps existed).
-- app_id never changes after the insert, so its index costs one entry per request, and lets an
-- app's requests be listed without walking everyone else's.
ALTER TABLE otp_requests ADD COLUMN app_id TEXT;
CREATE INDEX otp_requests_app_created_id ON otp_requests (app_id, created_at, id) WHERE app_id IS NOT NULL;
-- The code's length is fixed when the request is made (apps may choose their own); NULL: OTP_LENGTH.
ALTER TABLE otp_requests ADD COLUMN code_length INTEGER;
-- 1 for an app's test number: a fixed code, never sent to a provider.
ALTER TABLE otp_requests ADD COLUMN test_number INTEGER NOT NULL DEFAULT 0;

-- Which provider an attempt went to ('test_number' for test numbers, which reach none).
ALTER TABLE delivery_attempts ADD COLUMN provider TEXT;

-- Idempotency-Key values are scoped per app: two apps may use the same key for different
-- requests. The table is rebuilt with (app_id, key) as its key; earlier rows keep app_id ''.
CREATE TABLE idempotency_keys_rebuilt (
  app_id        TEXT NOT NULL DEFAULT '',
  key           TEXT NOT NULL,
  fingerprint   TEXT NOT NULL,
  request_id    TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  pending_until INTEGER,
  PRIMARY KEY (app_id, key)
);
INSERT INTO idempotency_keys_rebuilt (app_id, key, fingerprint, request_id, created_at, pending_until)
  SELECT '', key, fingerprint, request_id, created_at, pending_until FROM idempotency_keys;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_rebuilt RENAME TO idempotency_keys;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
