import type { Cooldown, WindowRule } from '../window-rules';

/**
 * A sliding-window log kept in a Durable Object's SQLite storage: one row per admitted event.
 * Deciding is a few indexed COUNTs; the object runs one call at a time and SQL calls are
 * synchronous, so check-then-record cannot interleave and every limit is exact.
 */

export { Cooldown, WindowRule } from '../window-rules';

/**
 * Where a window's events are: a whole table, or the rows of a table that meet a fixed condition
 * (its primary key starts with `at`, so a window is a range of it either way).
 */
export type WindowSource = string | { table: string; filter: string } | { table: string; column: string; value: string };

function sourceParts(source: WindowSource): { from: string; where: string; args: string[] } {
  if (typeof source === 'string') return { from: source, where: '', args: [] };
  // One key's rows of a keyed log: the key is a bound parameter, never SQL text.
  if ('column' in source) return { from: source.table, where: `${source.column} = ? AND `, args: [source.value] };
  return { from: source.table, where: `${source.filter} AND `, args: [] };
}

export interface WindowVerdict {
  allowed: boolean;
  /** When denied: ms until the call could succeed. */
  retryAfterMs: number;
  /** Events left in the tightest window were this call admitted. */
  remaining: number;
}

/**
 * One row per event and no index: a key's log holds at most a window or two of events, so a scan
 * reads a few rows (cheap), while every index would add a row written per event (the costly part).
 */
export function createWindowLog(sql: SqlStorage, table: string): void {
  sql.exec(`CREATE TABLE IF NOT EXISTS ${table} (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)`);
}

/**
 * `pending` are events lent out but not yet written (see `RateLimiter.hold`): they count like
 * stored ones, so callers in flight at the same time cannot overdraw a window.
 */
export function evaluateWindows(
  sql: SqlStorage,
  source: WindowSource,
  rules: WindowRule[],
  cooldown: Cooldown | undefined,
  now: number,
  pending: readonly number[] = [],
): WindowVerdict {
  const { from, where, args } = sourceParts(source);
  let retryAfterMs = 0;
  let remaining = Number.POSITIVE_INFINITY;
  for (const rule of rules) {
    const windowMs = rule.windowSeconds * 1000;
    const since = now - windowMs;
    const pendingInWindow = pending.filter((at) => at > since);
    const count = sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${from} WHERE ${where}at > ?`, ...args, since).one().n + pendingInWindow.length;
    if (count >= rule.limit) {
      // The window frees a slot when its (count - limit + 1)-th oldest event leaves it.
      const index = count - rule.limit;
      const stored = sql
        .exec<{ at: number }>(`SELECT at FROM ${from} WHERE ${where}at > ? ORDER BY at LIMIT ?`, ...args, since, index + 1)
        .toArray()
        .map((row) => row.at);
      const freeing = [...stored, ...pendingInWindow].sort((a, b) => a - b)[index]!;
      retryAfterMs = Math.max(retryAfterMs, freeing + windowMs - now);
    }
    remaining = Math.min(remaining, Math.max(0, rule.limit - count - 1));
  }
  if (cooldown) {
    const since = now - cooldown.resetSeconds * 1000;
    const stored = sql
      .exec<{ n: number; latest: number | null }>(`SELECT COUNT(*) AS n, MAX(at) AS latest FROM ${from} WHERE ${where}at > ?`, ...args, since)
      .one();
    const pendingRecent = pending.filter((at) => at > since);
    const n = stored.n + pendingRecent.length;
    const latest = Math.max(stored.latest ?? Number.NEGATIVE_INFINITY, ...pendingRecent);
    if (n > 0) {
      const waitSeconds = cooldown.scheduleSeconds[Math.min(n, cooldown.scheduleSeconds.length) - 1]!;
      const readyAt = latest + waitSeconds * 1000;
      if (readyAt > now) retryAfterMs = Math.max(retryAfterMs, readyAt - now);
    }
  }
  return { allowed: retryAfterMs === 0, retryAfterMs, remaining: retryAfterMs === 0 ? remaining : 0 };
}

/**
 * The same decision over event times held in memory (oldest first), as `evaluateWindows` makes it
 * over stored rows: a PrefixGuard answers its numbers' windows from its send index this way.
 */
export function evaluateTimes(times: readonly number[], rules: WindowRule[], cooldown: Cooldown | undefined, now: number): WindowVerdict {
  let retryAfterMs = 0;
  let remaining = Number.POSITIVE_INFINITY;
  const inWindow = (since: number) => times.filter((at) => at > since);
  for (const rule of rules) {
    const windowMs = rule.windowSeconds * 1000;
    const events = inWindow(now - windowMs);
    if (events.length >= rule.limit) {
      // The window frees a slot when its (count - limit + 1)-th oldest event leaves it.
      retryAfterMs = Math.max(retryAfterMs, events[events.length - rule.limit]! + windowMs - now);
    }
    remaining = Math.min(remaining, Math.max(0, rule.limit - events.length - 1));
  }
  if (cooldown) {
    const recent = inWindow(now - cooldown.resetSeconds * 1000);
    if (recent.length > 0) {
      const waitSeconds = cooldown.scheduleSeconds[Math.min(recent.length, cooldown.scheduleSeconds.length) - 1]!;
      const readyAt = recent[recent.length - 1]! + waitSeconds * 1000;
      if (readyAt > now) retryAfterMs = Math.max(retryAfterMs, readyAt - now);
    }
  }
  return { allowed: retryAfterMs === 0, retryAfterMs, remaining: retryAfterMs === 0 ? remaining : 0 };
}

/** Records an admitted event; the id lets the caller take exactly this event back. */
export function recordEvent(sql: SqlStorage, table: string, now: number): number {
  return sql.exec<{ id: number }>(`INSERT INTO ${table} (at) VALUES (?) RETURNING id`, now).one().id;
}

/** Events recorded after `since`. */
export function countEvents(sql: SqlStorage, table: string, since: number): number {
  return sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE at > ?`, since).one().n;
}

export function removeEvent(sql: SqlStorage, table: string, id: number): void {
  sql.exec(`DELETE FROM ${table} WHERE id = ?`, id);
}

/** Drops events older than every window; returns the newest remaining event time, if any. */
export function pruneEvents(sql: SqlStorage, table: string, olderThan: number): number | null {
  sql.exec(`DELETE FROM ${table} WHERE at <= ?`, olderThan);
  return sql.exec<{ at: number | null }>(`SELECT MAX(at) AS at FROM ${table}`).one().at;
}

export function longestWindowMs(rules: WindowRule[], cooldown?: Cooldown): number {
  return Math.max(...rules.map((rule) => rule.windowSeconds), cooldown?.resetSeconds ?? 0) * 1000;
}
