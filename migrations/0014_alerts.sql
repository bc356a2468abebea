-- Operator alerts (docs/operators.md#alerts): one row per incident of a rule, evaluated by the
-- every-minute cron. An incident opens when its rule's condition starts to hold for a scope and
-- clears when it stops; each of the two is posted once to the operator's receiver (the notice
-- columns), retried on later cron runs while the receiver fails.
CREATE TABLE alert_incidents (
  id                TEXT PRIMARY KEY,
  rule              TEXT NOT NULL CHECK (rule IN ('delivery_success', 'circuit_open', 'prefix_auto_blocked', 'global_budget_spent', 'dead_letters', 'conversion_step_up')),
  -- What the incident is about: a provider, a prefix, or '' for the whole service.
  scope             TEXT NOT NULL,
  opened_at         INTEGER NOT NULL,
  cleared_at        INTEGER,
  -- The measurements that opened it (JSON; never a phone number beyond a prefix).
  detail_json       TEXT NOT NULL,
  -- Notices: 'pending' (to post), 'delivered', 'failed' (gave up), 'skipped' (no receiver set).
  opened_notice     TEXT NOT NULL CHECK (opened_notice IN ('pending', 'delivered', 'failed', 'skipped')),
  cleared_notice    TEXT CHECK (cleared_notice IN ('pending', 'delivered', 'failed', 'skipped')),
  -- When the next post of a pending notice is due (NULL: none pending); a run that claims it
  -- moves it ahead by a lease, so two overlapping runs never post it together.
  notice_due_at     INTEGER,
  notice_attempts   INTEGER NOT NULL DEFAULT 0,
  last_notified_at  INTEGER,
  last_notice_error TEXT
);
-- At most one open incident per rule and scope: a second run that sees the same condition finds it open.
CREATE UNIQUE INDEX alert_incidents_open ON alert_incidents (rule, scope) WHERE cleared_at IS NULL;
CREATE INDEX alert_incidents_opened ON alert_incidents (opened_at);
CREATE INDEX alert_incidents_notice_due ON alert_incidents (notice_due_at) WHERE notice_due_at IS NOT NULL;

-- Signals the request path leaves for the alert rules where no table records them: the global
-- budget refusing sends. Written at most once per isolate every SIGNAL_MARK_INTERVAL_MS (src/db/alert-signals.ts), never per request.
CREATE TABLE alert_signals (
  name     TEXT PRIMARY KEY CHECK (name IN ('global_budget_exhausted')),
  first_at INTEGER NOT NULL,
  last_at  INTEGER NOT NULL
);
