import { z } from 'zod';

/** The alert rules (docs/operators.md#alerts); the CHECK of `alert_incidents.rule`. */
export const ALERT_RULES = ['delivery_success', 'circuit_open', 'prefix_auto_blocked', 'global_budget_spent', 'dead_letters', 'conversion_step_up'] as const;
export type AlertRule = (typeof ALERT_RULES)[number];

export const NOTICE_STATES = ['pending', 'delivered', 'failed', 'skipped'] as const;
export type NoticeState = (typeof NOTICE_STATES)[number];

const IncidentRow = z.object({
  id: z.string(),
  rule: z.enum(ALERT_RULES),
  scope: z.string(),
  opened_at: z.number(),
  cleared_at: z.number().nullable(),
  detail_json: z.string(),
  opened_notice: z.enum(NOTICE_STATES),
  cleared_notice: z.enum(NOTICE_STATES).nullable(),
  notice_due_at: z.number().nullable(),
  notice_attempts: z.number(),
  last_notified_at: z.number().nullable(),
  last_notice_error: z.string().nullable(),
});
export type IncidentRow = z.infer<typeof IncidentRow>;

const COLUMNS =
  'id, rule, scope, opened_at, cleared_at, detail_json, opened_notice, cleared_notice, notice_due_at, notice_attempts, last_notified_at, last_notice_error';

const parseRows = (rows: unknown[]): IncidentRow[] => rows.map((row) => IncidentRow.parse(row));

/** Every open incident. */
export async function openIncidents(db: D1Database): Promise<IncidentRow[]> {
  const { results } = await db.prepare(`SELECT ${COLUMNS} FROM alert_incidents WHERE cleared_at IS NULL`).all();
  return parseRows(results);
}

/**
 * Opens an incident unless one of the rule and scope is open already (the partial unique index):
 * its `changes` is 1 only for the run that opened it.
 */
export function openIncidentStatement(
  db: D1Database,
  incident: { id: string; rule: AlertRule; scope: string; at: number; detail: Record<string, unknown>; notify: boolean },
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT OR IGNORE INTO alert_incidents (id, rule, scope, opened_at, detail_json, opened_notice, notice_due_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`,
    )
    .bind(
      incident.id,
      incident.rule,
      incident.scope,
      incident.at,
      JSON.stringify(incident.detail),
      incident.notify ? 'pending' : 'skipped',
      incident.notify ? incident.at : null,
    );
}

/** Clears an open incident; its `changes` is 1 only for the run that cleared it. A pending opened notice keeps its due time. */
export function clearIncidentStatement(db: D1Database, id: string, at: number, notify: boolean): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE alert_incidents
       SET cleared_at = ?2, cleared_notice = ?3, notice_due_at = CASE WHEN ?3 = 'pending' THEN COALESCE(notice_due_at, ?2) ELSE notice_due_at END
       WHERE id = ?1 AND cleared_at IS NULL`,
    )
    .bind(id, at, notify ? 'pending' : 'skipped');
}

/**
 * Claims up to `limit` incidents with a notice due, moving their due time `leaseMs` ahead: a run
 * that dies mid-post leaves them to be posted again once the lease lapses.
 */
export async function claimDueNotices(db: D1Database, now: number, leaseMs: number, limit: number): Promise<IncidentRow[]> {
  const { results } = await db
    .prepare(
      `UPDATE alert_incidents SET notice_due_at = ?2
       WHERE id IN (SELECT id FROM alert_incidents WHERE notice_due_at IS NOT NULL AND notice_due_at <= ?1 ORDER BY notice_due_at LIMIT ?3)
       RETURNING ${COLUMNS}`,
    )
    .bind(now, now + leaseMs, limit)
    .all();
  return parseRows(results).sort((a, b) => a.opened_at - b.opened_at);
}

/**
 * Records what became of one notice: `outcome` is its new state and `retryAt` when it is posted
 * again (a `pending` one). Otherwise the incident's cleared notice, if it is pending (it may have
 * cleared while the opened one was being posted), is due at once.
 */
export function noticeOutcomeStatement(
  db: D1Database,
  update: { id: string; notice: 'opened' | 'cleared'; outcome: NoticeState; attempts: number; retryAt: number | null; at: number; error: string | null },
): D1PreparedStatement {
  const column = update.notice === 'opened' ? 'opened_notice' : 'cleared_notice';
  const clearedNext = update.notice === 'opened' ? "WHEN cleared_notice = 'pending' THEN ?6" : '';
  return db
    .prepare(
      `UPDATE alert_incidents
       SET ${column} = ?2, notice_attempts = ?3, last_notice_error = ?5,
           notice_due_at = CASE WHEN ?4 IS NOT NULL THEN ?4 ${clearedNext} ELSE NULL END,
           last_notified_at = CASE WHEN ?2 = 'delivered' THEN ?6 ELSE last_notified_at END
       WHERE id = ?1`,
    )
    .bind(update.id, update.outcome, update.attempts, update.retryAt, update.error, update.at);
}

/** Nothing left to post for the incident. */
export function noNoticeDueStatement(db: D1Database, id: string): D1PreparedStatement {
  return db.prepare('UPDATE alert_incidents SET notice_due_at = NULL WHERE id = ?1').bind(id);
}

/**
 * Open incidents first (oldest first), then those opened since `since` and cleared (newest first),
 * `limit` in all. Two statements, so that each reads through its index.
 */
export async function listIncidents(db: D1Database, options: { since: number; limit: number }): Promise<IncidentRow[]> {
  const [open, cleared] = await db.batch([
    db.prepare(`SELECT ${COLUMNS} FROM alert_incidents WHERE cleared_at IS NULL ORDER BY opened_at LIMIT ?1`).bind(options.limit),
    db
      .prepare(`SELECT ${COLUMNS} FROM alert_incidents WHERE opened_at >= ?1 AND cleared_at IS NOT NULL ORDER BY opened_at DESC LIMIT ?2`)
      .bind(options.since, options.limit),
  ]);
  return [...parseRows(open!.results), ...parseRows(cleared!.results)].slice(0, options.limit);
}
