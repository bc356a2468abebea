/**
 * Apps in the operator statistics: the conditions that keep every figure to one app, and the
 * per-app breakdown. Statements number their parameters ?1 since, ?2 until, ?3 bucket size,
 * ?4 app id; `statsStatement` binds exactly those a statement names.
 */

export interface StatsScope {
  /** Only this app's requests, and the attempts and status checks of those requests. */
  appId?: string | undefined;
}

type Row = Record<string, number | string | null>;

export interface StatsConditions {
  /** Requests created in the range (and of the app): reads otp_requests_app_created_id when scoped. */
  requests: string;
  /**
   * Rows of `table` (delivery_attempts or status_checks), timed by `column`, in the range (and of
   * the app). Neither table has an app: with one, each row's request is read by its key.
   */
  of: (table: 'delivery_attempts' | 'status_checks', column: string) => string;
}

export function statsConditions(scope: StatsScope): StatsConditions {
  const app = scope.appId !== undefined;
  return {
    requests: `created_at >= ?1 AND created_at < ?2${app ? ' AND app_id = ?4' : ''}`,
    of: (table, column) =>
      `${column} >= ?1 AND ${column} < ?2` +
      (app ? ` AND EXISTS (SELECT 1 FROM otp_requests scope WHERE scope.id = ${table}.request_id AND scope.app_id = ?4)` : ''),
  };
}

/** A statement bound to the values of ?1 up to the highest parameter it names: D1 refuses a value that has no parameter. */
export function statsStatement(db: D1Database, sql: string, values: { since: number; until: number; bucketMs: number }, scope: StatsScope) {
  const highest = Math.max(0, ...[...sql.matchAll(/\?(\d+)/g)].map((match) => Number(match[1])));
  return db.prepare(sql).bind(...[values.since, values.until, values.bucketMs, scope.appId ?? null].slice(0, highest));
}

/**
 * Requests by app, status and origin, with how many the provider accepted, and each app's name:
 * the by-status and by-origin counts are sums of these groups, so the breakdown by app reads no
 * row the range's other figures do not already read. The join reads one `apps` row per app.
 */
export function requestGroupsSql(conditions: StatsConditions): string {
  return `SELECT g.app_id, apps.name, g.status, g.origin, g.n, g.sent FROM (
      SELECT app_id, status, origin, COUNT(*) AS n, SUM(sent_at IS NOT NULL) AS sent
      FROM otp_requests WHERE ${conditions.requests} GROUP BY app_id, status, origin
    ) g LEFT JOIN apps ON apps.id = g.app_id`;
}

export interface AppFigures {
  appId: string | null;
  name: string | null;
  requests: number;
  sent: number;
  verified: number;
  failed: number;
  conversion: number | null;
}

const num = (value: unknown) => (typeof value === 'number' ? value : 0);

/** The groups of `requestGroupsSql` summed by status, by origin and by app (most requests first). */
export function foldRequestGroups(rows: Row[], ratio: (part: number, whole: number) => number | null) {
  const byStatus: Record<string, number> = {};
  const byOrigin: Record<string, number> = { api: 0, operator_resend: 0 };
  const apps = new Map<string | null, AppFigures>();
  for (const row of rows) {
    const n = num(row.n);
    const status = String(row.status);
    byStatus[status] = (byStatus[status] ?? 0) + n;
    byOrigin[String(row.origin)] = (byOrigin[String(row.origin)] ?? 0) + n;
    const appId = typeof row.app_id === 'string' ? row.app_id : null;
    const app = apps.get(appId) ?? {
      appId,
      name: typeof row.name === 'string' ? row.name : null,
      requests: 0,
      sent: 0,
      verified: 0,
      failed: 0,
      conversion: null,
    };
    app.requests += n;
    app.sent += num(row.sent);
    if (status === 'verified') app.verified += n;
    if (status === 'failed') app.failed += n;
    apps.set(appId, app);
  }
  const byApp = [...apps.values()]
    .map((app) => ({ ...app, conversion: ratio(app.verified, app.sent) }))
    .sort((a, b) => b.requests - a.requests || (a.appId ?? '\uffff').localeCompare(b.appId ?? '\uffff'));
  return { byStatus, byOrigin, byApp };
}
