import { type Cooldown, evaluateWindows, type WindowRule, type WindowVerdict } from './window-log';

/**
 * The per-phone send log a PrefixGuard keeps for the numbers of its prefix (every number of a
 * prefix comes to the same object, so its windows and cooldown are exact). It is a table of its
 * own, not the prefix's `sends`: phone windows reach a day while `sends` keeps an hour and is
 * scanned whole, so a day of a hot prefix's sends would be read on every admission. Keyed by the
 * number's hash first, a phone's check reads only that phone's rows; one row written per send.
 */
export const PHONE_SENDS = 'phone_sends';

/** CREATE TABLE IF NOT EXISTS: objects made before this table existed get it on their next start. */
export function createPhoneSends(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE IF NOT EXISTS ${PHONE_SENDS} (
    number_key TEXT NOT NULL, at INTEGER NOT NULL, request_id TEXT NOT NULL,
    PRIMARY KEY (number_key, at, request_id)) WITHOUT ROWID`);
}

export function evaluatePhone(sql: SqlStorage, numberKey: string, rules: WindowRule[], cooldown: Cooldown | undefined, now: number): WindowVerdict {
  return evaluateWindows(sql, { table: PHONE_SENDS, column: 'number_key', value: numberKey }, rules, cooldown, now);
}

export function recordPhoneSend(sql: SqlStorage, numberKey: string, requestId: string, now: number): void {
  sql.exec(`INSERT OR REPLACE INTO ${PHONE_SENDS} (number_key, at, request_id) VALUES (?, ?, ?)`, numberKey, now, requestId);
}

/** Takes a send back; with its number's hash the delete reads only that number's rows. */
export function removePhoneSend(sql: SqlStorage, requestId: string, numberKey: string | undefined): void {
  if (numberKey) sql.exec(`DELETE FROM ${PHONE_SENDS} WHERE number_key = ? AND request_id = ?`, numberKey, requestId);
  else sql.exec(`DELETE FROM ${PHONE_SENDS} WHERE request_id = ?`, requestId);
}
