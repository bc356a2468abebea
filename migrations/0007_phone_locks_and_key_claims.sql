-- Phones whose verification-failure budget (VERIFY_FAILURE_LIMITS) is spent. The budget itself is
-- kept by a RateLimiter Durable Object; objects cannot be listed, so each lock is written here
-- when the budget becomes spent: POST /v1/otp refuses the phone while it lasts, operators list
-- and lift locks. A row whose locked_until has passed means nothing and is deleted when the next
-- lock is written.
CREATE TABLE phone_locks (
  phone_number TEXT PRIMARY KEY,
  failures     INTEGER NOT NULL,
  locked_at    INTEGER NOT NULL,
  locked_until INTEGER NOT NULL
);
CREATE INDEX phone_locks_until ON phone_locks (locked_until);

-- An Idempotency-Key is claimed before admission, while its request is still being created:
-- pending_until is set until the request row is written (then NULL), so concurrent calls with the
-- key find the claim and wait instead of being admitted too. A claim whose owner crashed lapses
-- at pending_until.
ALTER TABLE idempotency_keys ADD COLUMN pending_until INTEGER;
