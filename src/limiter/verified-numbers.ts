/**
 * The numbers of a prefix that verified a code recently, by the same hash the PrefixGuard keys
 * its sends by (never the number): a step-up lets them through as returning users. One row per
 * number, refreshed by each verification, kept for the returning window and no longer.
 */
export const VERIFIED_NUMBERS = 'verified_numbers';
const KEEP_KEY = 'verifiedKeepMs';

export function createVerifiedNumbers(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE IF NOT EXISTS ${VERIFIED_NUMBERS} (number_key TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID`);
}

export function isReturning(sql: SqlStorage, numberKey: string, now: number, keepMs: number): boolean {
  return sql.exec(`SELECT 1 FROM ${VERIFIED_NUMBERS} WHERE number_key = ? AND at > ?`, numberKey, now - keepMs).toArray().length > 0;
}

/** The number of a verified send (found by its request) is returning from now on; answers whether it was found. */
export async function rememberVerified(storage: DurableObjectStorage, requestId: string, now: number, keepMs: number): Promise<boolean> {
  const written = storage.sql.exec(
    `INSERT INTO ${VERIFIED_NUMBERS} (number_key, at) SELECT number_key, ? FROM sends WHERE request_id = ?
     ON CONFLICT (number_key) DO UPDATE SET at = excluded.at`,
    now,
    requestId,
  ).rowsWritten;
  if (written > 0 && (await storage.get<number>(KEEP_KEY)) !== keepMs) await storage.put(KEEP_KEY, keepMs);
  return written > 0;
}

/** Forgets numbers past the window; answers when the next one leaves it (null: none left). */
export async function pruneVerified(storage: DurableObjectStorage, now: number): Promise<number | null> {
  const keepMs = await storage.get<number>(KEEP_KEY);
  if (keepMs === undefined) return null;
  storage.sql.exec(`DELETE FROM ${VERIFIED_NUMBERS} WHERE at <= ?`, now - keepMs);
  const oldest = storage.sql.exec<{ at: number | null }>(`SELECT MIN(at) AS at FROM ${VERIFIED_NUMBERS}`).one().at;
  return oldest === null ? null : oldest + keepMs;
}
