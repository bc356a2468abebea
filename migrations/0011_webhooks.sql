-- Webhooks (docs/webhooks.md): per app, a URL the service posts signed events of its requests to.
-- D1 holds no secret: each app's signing secret is derived from the WEBHOOK_SECRET_KEY secret, the
-- app id and secret_version. A removed webhook keeps its row (url NULL), so a webhook set again
-- later gets the next version, never an earlier secret back.
CREATE TABLE webhooks (
  app_id                TEXT PRIMARY KEY,
  url                   TEXT,              -- NULL once removed
  event_mask            INTEGER NOT NULL,  -- the event types sent: 1 sent, 2 delivered, 4 failed, 8 expired, 16 verified
  include_phone_number  INTEGER NOT NULL DEFAULT 0,
  secret_version        INTEGER NOT NULL,
  previous_secret_until INTEGER,           -- a rotation's overlap: until then the previous version signs too
  active_since          INTEGER,           -- events that happen from here on are sent (set, or set again after 410 Gone)
  created_at            INTEGER NOT NULL,
  updated_at            INTEGER NOT NULL,
  disabled_at           INTEGER,           -- the receiver answered 410 Gone: nothing is sent until an operator sets it again
  disabled_reason       TEXT
);

-- One row per event of a request of an app with a webhook: the outbox, written in the same D1
-- batch as the request's change, and each event's delivery state. The id is derived from the
-- request id and the type (evt_<request id without otp_>_<status>), so an event is written once
-- however often its change is recorded, and it is the webhook-id receivers deduplicate by.
CREATE TABLE webhook_events (
  id              TEXT PRIMARY KEY,
  app_id          TEXT NOT NULL,
  request_id      TEXT NOT NULL,
  type            TEXT NOT NULL CHECK (type IN ('otp.sent', 'otp.delivered', 'otp.failed', 'otp.expired', 'otp.verified')),
  error_code      TEXT,
  occurred_at     INTEGER NOT NULL,
  -- scheduled: an otp.expired that happens only if the code is still unverified at occurred_at
  state           TEXT NOT NULL CHECK (state IN ('scheduled', 'pending', 'delivered', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  round_attempts  INTEGER NOT NULL DEFAULT 0, -- attempts since it was written or last redelivered: the backoff's step
  next_attempt_at INTEGER NOT NULL,           -- when its next attempt is due: the sweeper's sign of a lost job
  retry_until     INTEGER NOT NULL,           -- no retry is scheduled past this
  lease_until     INTEGER,                    -- while a consumer posts it, no other copy of its job may
  last_attempt_at INTEGER,
  last_error_code TEXT,
  delivered_at    INTEGER
);
CREATE INDEX webhook_events_app_occurred ON webhook_events (app_id, occurred_at, id);
CREATE INDEX webhook_events_app_failed ON webhook_events (app_id, occurred_at, id) WHERE state = 'failed';
CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at) WHERE state IN ('scheduled', 'pending');
CREATE INDEX webhook_events_occurred ON webhook_events (occurred_at);

-- Every delivery attempt of an event: one POST to the receiver, or a refusal made without one.
CREATE TABLE webhook_attempts (
  id                  INTEGER PRIMARY KEY,
  event_id            TEXT NOT NULL,
  attempt_number      INTEGER NOT NULL,
  started_at          INTEGER NOT NULL,
  duration_ms         INTEGER NOT NULL,
  outcome             TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed')),
  http_status         INTEGER,
  error_code          TEXT,
  error_message       TEXT,
  retry_delay_seconds INTEGER,
  UNIQUE (event_id, attempt_number)
);
