import type { WindowRule } from '../window-rules';

/**
 * A budget handed out in blocks (leases) instead of one event per send: a shard of the global
 * budget or an app's daily budget. One row per lease with its unit count; a window's use is the
 * sum of the counts of the leases in it. A lease is stamped at its END (granted at t, spendable
 * until t + leaseMs, stamped t + leaseMs), so a unit spent at any moment of the lease still counts
 * for a whole window after it was spent: whatever window one looks at, every lease whose units
 * were spent in it was counted when the last of them was granted, so the units spent in any
 * window never exceed the limit (docs/abuse-defence.md states the bound).
 */
export const LEASES = 'leases';

export function createLeaseLog(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE IF NOT EXISTS ${LEASES} (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, n INTEGER NOT NULL)`);
}

export interface LeaseVerdict {
  /** Units granted (0: none); at most what was asked. */
  units: number;
  leaseId?: number;
  /** When none were granted: ms until at least one unit frees. */
  retryAfterMs: number;
}

function usedSince(sql: SqlStorage, since: number): number {
  return sql.exec<{ n: number | null }>(`SELECT SUM(n) AS n FROM ${LEASES} WHERE at > ?`, since).one().n ?? 0;
}

/** Grants up to `want` units, as many as every window has room for, as one lease ending at now + leaseMs. */
export function grantLease(sql: SqlStorage, rules: WindowRule[], want: number, leaseMs: number, now: number): LeaseVerdict {
  let room = want;
  let retryAfterMs = 0;
  for (const rule of rules) {
    const windowMs = rule.windowSeconds * 1000;
    const since = now - windowMs;
    const used = usedSince(sql, since);
    room = Math.min(room, rule.limit - used);
    if (used >= rule.limit) retryAfterMs = Math.max(retryAfterMs, freeingAt(sql, since, used - rule.limit + 1) + windowMs - now);
  }
  if (room <= 0) return { units: 0, retryAfterMs: Math.max(1, retryAfterMs) };
  const leaseId = sql.exec<{ id: number }>(`INSERT INTO ${LEASES} (at, n) VALUES (?, ?) RETURNING id`, now + leaseMs, room).one().id;
  return { units: room, leaseId, retryAfterMs: 0 };
}

/** The stamp of the lease whose leaving the window frees `needed` units (leases leave oldest first). */
function freeingAt(sql: SqlStorage, since: number, needed: number): number {
  let freed = 0;
  for (const lease of sql.exec<{ at: number; n: number }>(`SELECT at, n FROM ${LEASES} WHERE at > ? ORDER BY at`, since)) {
    freed += lease.n;
    if (freed >= needed) return lease.at;
  }
  return since;
}

/** Its holder will not spend these units (the lease lapsed, or the holder stops): they stop counting. */
export function returnUnits(sql: SqlStorage, leaseId: number, units: number): void {
  sql.exec(`UPDATE ${LEASES} SET n = MAX(0, n - ?) WHERE id = ?`, units, leaseId);
}
