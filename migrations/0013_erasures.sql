-- Erasures of one person's data (docs/operators.md#erasing-one-persons-data): who asked, when,
-- for which app, and how many rows each table lost. Never the number, nor any hash of it.
CREATE TABLE erasures (
  id        TEXT PRIMARY KEY,      -- era_…
  at        INTEGER NOT NULL,      -- epoch milliseconds
  actor     TEXT NOT NULL,         -- an operator (X-Operator, else admin), or the key id of an app's secret key
  app_id    TEXT,                  -- NULL: every app's data for the number; else only that app's requests
  rows_json TEXT NOT NULL          -- {"otp_requests": 2, "delivery_attempts": 3, …}, limiter objects included
);
CREATE INDEX erasures_at ON erasures (at);
