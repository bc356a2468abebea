-- Server-side revocation of signed session cookies. A cookie carries its session id and when it
-- was issued; it is refused when its id is listed here (logout), or when its phone's sessions were
-- revoked after it was issued (an operator action). Nothing is written while sessions are
-- created or read, only when one is revoked; each row goes once the cookies it refuses have
-- expired anyway (`expires_at`), cleared by the next revocation.

CREATE TABLE revoked_sessions (
  session_id TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL  -- the cookie's own expiry, epoch milliseconds
);
CREATE INDEX revoked_sessions_expires ON revoked_sessions (expires_at);

-- Keyed by a hash of the number, like the limiter objects: no phone number is stored.
CREATE TABLE phone_session_revocations (
  phone_hash     TEXT PRIMARY KEY,
  revoked_before INTEGER NOT NULL,  -- sessions issued at or before this instant are refused
  expires_at     INTEGER NOT NULL   -- after this, every such session has expired by itself
);
CREATE INDEX phone_session_revocations_expires ON phone_session_revocations (expires_at);
