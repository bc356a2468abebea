-- Several providers, failover between them, and WhatsApp as a second channel.

-- The channel a request asked for: 'sms' (the default), 'whatsapp', or 'auto' (WhatsApp first,
-- SMS when it is not delivered in time). sent_provider and sent_channel say which provider and
-- channel the request's current message went out through; sms_fallback_at when an 'auto' request
-- gave up on WhatsApp and went on by SMS.
ALTER TABLE otp_requests ADD COLUMN channel TEXT NOT NULL DEFAULT 'sms';
ALTER TABLE otp_requests ADD COLUMN sent_provider TEXT;
ALTER TABLE otp_requests ADD COLUMN sent_channel TEXT;
ALTER TABLE otp_requests ADD COLUMN sms_fallback_at INTEGER;

-- The channel of each provider call (NULL: recorded before channels existed, SMS), and whether
-- its outcome was ambiguous (the message may have gone out: a vendor without idempotency keys is
-- then never called again for that request).
ALTER TABLE delivery_attempts ADD COLUMN channel TEXT;
ALTER TABLE delivery_attempts ADD COLUMN ambiguous INTEGER NOT NULL DEFAULT 0;

-- The sandbox plays one or two providers, each sending once per key and channel.
ALTER TABLE sandbox_messages ADD COLUMN provider TEXT NOT NULL DEFAULT 'sandbox';
ALTER TABLE sandbox_messages ADD COLUMN channel TEXT NOT NULL DEFAULT 'sms';

-- The provider and channel an otp.sent or otp.delivered event reports, as they were when it was
-- written (an `auto` request may go on by SMS after its WhatsApp message was sent).
ALTER TABLE webhook_events ADD COLUMN provider TEXT;
ALTER TABLE webhook_events ADD COLUMN channel TEXT;

-- Providers an operator took out of routing, and who did.
CREATE TABLE provider_drains (
  provider   TEXT PRIMARY KEY,
  drained_at INTEGER NOT NULL,
  actor      TEXT NOT NULL,
  reason     TEXT
);

-- Every circuit change of a provider's health object and every drain and undrain, for the dashboard.
CREATE TABLE provider_events (
  id         INTEGER PRIMARY KEY,
  provider   TEXT NOT NULL,
  at         INTEGER NOT NULL,
  kind       TEXT NOT NULL CHECK (kind IN ('circuit', 'drain', 'undrain')),
  from_state TEXT,
  to_state   TEXT,
  detail     TEXT
);
CREATE INDEX provider_events_at ON provider_events (at);
-- The latest circuit change of each provider, for the circuit alert rule (written only when a circuit changes).
CREATE INDEX provider_events_circuits ON provider_events (kind, provider, at);
