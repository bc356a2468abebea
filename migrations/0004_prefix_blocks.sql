-- Destination-prefix blocks, mirrored from the PrefixGuard Durable Objects (which enforce them)
-- so that operators can list them. One row per prefix: its latest block.
CREATE TABLE prefix_blocks (
  prefix     TEXT PRIMARY KEY,
  reason     TEXT NOT NULL CHECK (reason IN ('low_conversion', 'sequential_numbers', 'operator')),
  note       TEXT,
  blocked_at INTEGER NOT NULL,
  until      INTEGER NOT NULL,
  lifted_at  INTEGER
);
CREATE INDEX prefix_blocks_until ON prefix_blocks (until);
