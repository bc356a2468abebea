import { z } from 'zod';

/** `api_keys`: an app's keys, each stored as the SHA-256 of its text (apps/key-material.ts). */

export const ApiKeyRow = z.object({
  id: z.string(),
  app_id: z.string(),
  kind: z.enum(['secret', 'publishable']),
  prefix: z.string(),
  created_at: z.number(),
  expires_at: z.number().nullable(),
  revoked_at: z.number().nullable(),
  replaced_by: z.string().nullable(),
  last_used_at: z.number().nullable(),
});
export type ApiKeyRow = z.infer<typeof ApiKeyRow>;

/** A key found by its hash, with its app: all an authenticated call needs, in one indexed read. */
const KeyWithApp = ApiKeyRow.extend({
  app_name: z.string(),
  settings_json: z.string(),
  app_disabled_at: z.number().nullable(),
});
export type KeyWithApp = z.infer<typeof KeyWithApp>;

const KEY_COLUMNS = 'k.id, k.app_id, k.kind, k.prefix, k.created_at, k.expires_at, k.revoked_at, k.replaced_by, k.last_used_at';

export async function findKeyByHash(db: D1Database, keyHash: string): Promise<KeyWithApp | null> {
  const row = await db
    .prepare(
      `SELECT ${KEY_COLUMNS}, a.name AS app_name, a.settings_json, a.disabled_at AS app_disabled_at
       FROM api_keys k JOIN apps a ON a.id = k.app_id WHERE k.key_hash = ?1`,
    )
    .bind(keyHash)
    .first();
  return row ? KeyWithApp.parse(row) : null;
}

export function insertKeyStatement(
  db: D1Database,
  key: { id: string; appId: string; kind: 'secret' | 'publishable'; hash: string; prefix: string; now: number },
): D1PreparedStatement {
  return db
    .prepare('INSERT INTO api_keys (id, app_id, kind, key_hash, prefix, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)')
    .bind(key.id, key.appId, key.kind, key.hash, key.prefix, key.now);
}

/** Inserts a key unless its hash is on record (the seeded development keys). */
export function insertKeyIfMissingStatement(
  db: D1Database,
  key: { id: string; appId: string; kind: 'secret' | 'publishable'; hash: string; prefix: string; now: number },
): D1PreparedStatement {
  return db
    .prepare('INSERT OR IGNORE INTO api_keys (id, app_id, kind, key_hash, prefix, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)')
    .bind(key.id, key.appId, key.kind, key.hash, key.prefix, key.now);
}

/** Every key of every app, grouped by app, oldest first: for the operators' listing of all apps. */
export async function listAllKeys(db: D1Database): Promise<ApiKeyRow[]> {
  const { results } = await db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys k ORDER BY k.app_id, k.created_at, k.id`).all();
  return results.map((row) => ApiKeyRow.parse(row));
}

export async function listKeys(db: D1Database, appId: string): Promise<ApiKeyRow[]> {
  const { results } = await db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE k.app_id = ?1 ORDER BY k.created_at, k.id`).bind(appId).all();
  return results.map((row) => ApiKeyRow.parse(row));
}

export async function getKey(db: D1Database, appId: string, keyId: string): Promise<ApiKeyRow | null> {
  const row = await db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE k.app_id = ?1 AND k.id = ?2`).bind(appId, keyId).first();
  return row ? ApiKeyRow.parse(row) : null;
}

/** A key a revocation still changes. */
export const UNREVOKED_KEY = 'revoked_at IS NULL';

/** Ends a key now; a key already revoked keeps its first revocation time. */
export function revokeKeyStatement(db: D1Database, key: { appId: string; keyId: string; now: number }): D1PreparedStatement {
  return db.prepare('UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?3) WHERE app_id = ?1 AND id = ?2').bind(key.appId, key.keyId, key.now);
}

/**
 * A key a rotation may replace: neither revoked nor replaced already. Every statement of a rotation
 * carries this condition, so that in its batch (one transaction) either all of them apply or none:
 * two rotations of one key at once make one successor, not two.
 */
export const ROTATABLE_KEY = 'revoked_at IS NULL AND replaced_by IS NULL';

/** The conditions a key change is recorded under (app-changes.ts `keyChangeStatement`). */
export type KeyCondition = typeof ROTATABLE_KEY | typeof UNREVOKED_KEY;

/** A rotation's new key, of the old key's kind; written only while the old key is rotatable. */
export function insertSuccessorKeyStatement(
  db: D1Database,
  key: { id: string; appId: string; hash: string; prefix: string; now: number; replaces: string },
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO api_keys (id, app_id, kind, key_hash, prefix, created_at)
       SELECT ?1, ?2, kind, ?3, ?4, ?5 FROM api_keys WHERE app_id = ?2 AND id = ?6 AND ${ROTATABLE_KEY}`,
    )
    .bind(key.id, key.appId, key.hash, key.prefix, key.now, key.replaces);
}

/** A rotation's old key: valid until `expiresAt` (the overlap), and pointing at its successor. */
export function replaceKeyStatement(db: D1Database, key: { appId: string; keyId: string; expiresAt: number; replacedBy: string }): D1PreparedStatement {
  return db
    .prepare(`UPDATE api_keys SET expires_at = ?3, replaced_by = ?4 WHERE app_id = ?1 AND id = ?2 AND ${ROTATABLE_KEY}`)
    .bind(key.appId, key.keyId, key.expiresAt, key.replacedBy);
}

export async function recordKeyUse(db: D1Database, keyId: string, now: number): Promise<void> {
  await db.prepare('UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)').bind(keyId, now).run();
}
