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

export async function listKeys(db: D1Database, appId: string): Promise<ApiKeyRow[]> {
  const { results } = await db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE k.app_id = ?1 ORDER BY k.created_at, k.id`).bind(appId).all();
  return results.map((row) => ApiKeyRow.parse(row));
}

export async function getKey(db: D1Database, appId: string, keyId: string): Promise<ApiKeyRow | null> {
  const row = await db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE k.app_id = ?1 AND k.id = ?2`).bind(appId, keyId).first();
  return row ? ApiKeyRow.parse(row) : null;
}

/** Ends a key now; a key already revoked keeps its first revocation time. */
export function revokeKeyStatement(db: D1Database, key: { appId: string; keyId: string; now: number }): D1PreparedStatement {
  return db.prepare('UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?3) WHERE app_id = ?1 AND id = ?2').bind(key.appId, key.keyId, key.now);
}

/** A rotation's old key: valid until `expiresAt` (the overlap), and pointing at its successor. */
export function expireKeyStatement(db: D1Database, key: { appId: string; keyId: string; expiresAt: number; replacedBy: string }): D1PreparedStatement {
  return db
    .prepare('UPDATE api_keys SET expires_at = MIN(COALESCE(expires_at, ?3), ?3), replaced_by = ?4 WHERE app_id = ?1 AND id = ?2')
    .bind(key.appId, key.keyId, key.expiresAt, key.replacedBy);
}

export async function recordKeyUse(db: D1Database, keyId: string, now: number): Promise<void> {
  await db.prepare('UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)').bind(keyId, now).run();
}
