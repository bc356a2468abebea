import { VERIFIED_NUMBERS } from './verified-numbers';

/**
 * A PrefixGuard's one log of sends: one row per admitted send, read by both scopes it decides.
 * Clustered by time (`at` leads the primary key), so the prefix's windows and pumping signals are
 * range scans of the last minutes, however long the rows are kept; the number's own windows are
 * answered from the object's send index (send-index.ts), built from this table. No secondary
 * index: each would cost a row written per send, and rows written are what the object pays for.
 *
 * - `prefix_scope`: counted by the prefix's windows and pumping signals (not the sandbox's test
 *   numbers, and no longer once an operator lifted the prefix's block);
 * - `phone_scope`: counted by the number's windows and cooldown.
 * A row is kept for the longer of the two retentions (the phone's day).
 */
export const SENDS = 'sends';

export interface SendRow {
  at: number;
  requestId: string;
  numberKey: string;
  blockKey: string;
  prefixScope: boolean;
  phoneScope: boolean;
}

const LAYOUT = `(at INTEGER NOT NULL, request_id TEXT NOT NULL, number_key TEXT NOT NULL, block_key TEXT NOT NULL,
  prefix_scope INTEGER NOT NULL, phone_scope INTEGER NOT NULL, PRIMARY KEY (at, request_id)) WITHOUT ROWID`;

/**
 * Creates the log; an object made before it (with `sends` keyed by request id and the phone's
 * `phone_sends`) has its rows carried over once, in one transaction, so no number gains a send
 * because its history moved. Verified marks of old rows become the numbers' verified rows.
 */
export function createSendLog(storage: DurableObjectStorage): void {
  const sql = storage.sql;
  const tables = new Map(
    sql
      .exec<{ name: string; sql: string }>(`SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN ('${SENDS}', 'phone_sends')`)
      .toArray()
      .map((row) => [row.name, row.sql]),
  );
  const legacySends = tables.get(SENDS)?.includes('request_id TEXT PRIMARY KEY') ?? false;
  const legacyPhoneSends = tables.has('phone_sends');
  if (!legacySends && !legacyPhoneSends) {
    sql.exec(`CREATE TABLE IF NOT EXISTS ${SENDS} ${LAYOUT}`);
    return;
  }
  storage.transactionSync(() => carryOver(sql, legacySends, legacyPhoneSends));
}

function carryOver(sql: SqlStorage, legacySends: boolean, legacyPhoneSends: boolean): void {
  if (legacySends) sql.exec(`ALTER TABLE ${SENDS} RENAME TO legacy_sends`);
  sql.exec(`CREATE TABLE IF NOT EXISTS ${SENDS} ${LAYOUT}`);
  const columns = `${SENDS} (at, request_id, number_key, block_key, prefix_scope, phone_scope)`;
  if (legacySends) {
    const phoneScope = legacyPhoneSends ? 'EXISTS (SELECT 1 FROM phone_sends p WHERE p.request_id = s.request_id)' : '0';
    sql.exec(`INSERT OR IGNORE INTO ${columns} SELECT s.at, s.request_id, s.number_key, s.block_key, 1, ${phoneScope} FROM legacy_sends s`);
    // A verified send counts as converted while its number's verified row is as new as it (see pumping-signals.ts).
    sql.exec(
      `INSERT INTO ${VERIFIED_NUMBERS} (number_key, at) SELECT number_key, MAX(at) FROM legacy_sends WHERE verified = 1 GROUP BY number_key
       ON CONFLICT (number_key) DO UPDATE SET at = MAX(at, excluded.at)`,
    );
    sql.exec('DROP TABLE legacy_sends');
  }
  if (legacyPhoneSends) {
    // Sends the prefix had already forgotten (it kept an hour, the phone a day), and those of the
    // sandbox's test numbers: the phone's only. Those carried above share time and request id.
    sql.exec(`INSERT OR IGNORE INTO ${columns} SELECT at, request_id, number_key, '', 0, 1 FROM phone_sends`);
    sql.exec('DROP TABLE phone_sends');
  }
}

export function insertSend(sql: SqlStorage, row: SendRow): void {
  sql.exec(
    `INSERT OR REPLACE INTO ${SENDS} (at, request_id, number_key, block_key, prefix_scope, phone_scope) VALUES (?, ?, ?, ?, ?, ?)`,
    row.at,
    row.requestId,
    row.numberKey,
    row.blockKey,
    row.prefixScope ? 1 : 0,
    row.phoneScope ? 1 : 0,
  );
}

/** Deletes one send by its primary key (the index knows its time), so nothing else is read. */
export function deleteSend(sql: SqlStorage, row: Pick<SendRow, 'at' | 'requestId'>): void {
  sql.exec(`DELETE FROM ${SENDS} WHERE at = ? AND request_id = ?`, row.at, row.requestId);
}

/** Every kept send, oldest first, as the send index keeps it: what it is built from when the object starts. */
export function* readSends(sql: SqlStorage): Generator<Omit<SendRow, 'blockKey'>> {
  const rows = sql.exec<{ at: number; request_id: string; number_key: string; prefix_scope: number; phone_scope: number }>(
    `SELECT at, request_id, number_key, prefix_scope, phone_scope FROM ${SENDS} ORDER BY at`,
  );
  for (const row of rows) {
    yield { at: row.at, requestId: row.request_id, numberKey: row.number_key, prefixScope: row.prefix_scope === 1, phoneScope: row.phone_scope === 1 };
  }
}

/**
 * The prefix's signals start afresh (an operator lifted its block): no kept send counts for the
 * prefix any more, while the numbers' own histories stay.
 */
export function forgetPrefixSends(sql: SqlStorage): void {
  sql.exec(`DELETE FROM ${SENDS} WHERE prefix_scope = 1 AND phone_scope = 0`);
  sql.exec(`UPDATE ${SENDS} SET prefix_scope = 0 WHERE prefix_scope = 1`);
}
