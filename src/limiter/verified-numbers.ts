/**
 * The numbers of a prefix that verified a code recently, by the same hash the PrefixGuard keys
 * its sends by (never the number): a step-up lets them through as returning users. One row per
 * number, refreshed by each verification, kept for the returning window and no longer.
 *
 * The row is also the conversion mark of the pumping defence: a send counts as verified when its
 * number's row is at least as new as the send (pumping-signals.ts), so a verification writes this
 * one row and nothing in the send log.
 */
export const VERIFIED_NUMBERS = 'verified_numbers';
const KEEP_KEY = 'verifiedKeepMs';

export function createVerifiedNumbers(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE IF NOT EXISTS ${VERIFIED_NUMBERS} (number_key TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID`);
}

export function isReturning(sql: SqlStorage, numberKey: string, now: number, keepMs: number): boolean {
  return sql.exec(`SELECT 1 FROM ${VERIFIED_NUMBERS} WHERE number_key = ? AND at > ?`, numberKey, now - keepMs).toArray().length > 0;
}

/**
 * The number of a verified send (the PrefixGuard found it by the send's request id) verified now:
 * its sends so far count as converted, and it is returning for `keepMs` (when given; else its row
 * is kept at least as long as before).
 */
export async function rememberVerified(storage: DurableObjectStorage, numberKey: string, now: number, keepMs: number | undefined): Promise<void> {
  storage.sql.exec(`INSERT INTO ${VERIFIED_NUMBERS} (number_key, at) VALUES (?, ?) ON CONFLICT (number_key) DO UPDATE SET at = excluded.at`, numberKey, now);
  if (keepMs !== undefined && (await storage.get<number>(KEEP_KEY)) !== keepMs) await storage.put(KEEP_KEY, keepMs);
}

/** Forgets numbers past the window; answers when the next one leaves it (null: none left). */
export async function pruneVerified(storage: DurableObjectStorage, now: number): Promise<number | null> {
  const keepMs = await storage.get<number>(KEEP_KEY);
  if (keepMs === undefined) return null;
  storage.sql.exec(`DELETE FROM ${VERIFIED_NUMBERS} WHERE at <= ?`, now - keepMs);
  const oldest = storage.sql.exec<{ at: number | null }>(`SELECT MIN(at) AS at FROM ${VERIFIED_NUMBERS}`).one().at;
  return oldest === null ? null : oldest + keepMs;
}
