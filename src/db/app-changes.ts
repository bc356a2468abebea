import { z } from 'zod';
import type { KeyCondition } from './api-keys';

/** `app_changes`: who changed what of an app and when. Details never hold a key. */

/** What an operator can do to an app or its keys; each change records one of these. */
export const APP_CHANGE_ACTIONS = [
  'app.created',
  'app.updated',
  'app.disabled',
  'app.enabled',
  'key.created',
  'key.rotated',
  'key.revoked',
  'webhook.set',
  'webhook.updated',
  'webhook.removed',
  'webhook.secret_rotated',
  'webhook.disabled',
  'webhook.redelivered',
] as const;
export type AppChangeAction = (typeof APP_CHANGE_ACTIONS)[number];

export const AppChangeRow = z.object({
  id: z.number(),
  app_id: z.string(),
  at: z.number(),
  actor: z.string(),
  action: z.enum(APP_CHANGE_ACTIONS),
  detail_json: z.string(),
});
export type AppChangeRow = z.infer<typeof AppChangeRow>;

export function appChangeStatement(
  db: D1Database,
  change: { appId: string; at: number; actor: string; action: AppChangeAction; detail: Record<string, unknown> },
): D1PreparedStatement {
  return db
    .prepare('INSERT INTO app_changes (app_id, at, actor, action, detail_json) VALUES (?1, ?2, ?3, ?4, ?5)')
    .bind(change.appId, change.at, change.actor, change.action, JSON.stringify(change.detail));
}

/**
 * A change recorded only if the statement just before it in the same batch changed a row: put
 * right after a conditional update, it records the change exactly when it happened.
 */
export function appChangeIfChangedStatement(
  db: D1Database,
  change: { appId: string; at: number; actor: string; action: AppChangeAction; detail: Record<string, unknown> },
  options: { countAs?: string } = {},
): D1PreparedStatement {
  // `countAs` names a detail field that holds how many rows the statement before changed.
  const detail = options.countAs ? `json_set(?5, '$.' || ?6, changes())` : 'json(?5)';
  return db
    .prepare(`INSERT INTO app_changes (app_id, at, actor, action, detail_json) SELECT ?1, ?2, ?3, ?4, ${detail} WHERE changes() > 0`)
    .bind(change.appId, change.at, change.actor, change.action, JSON.stringify(change.detail), ...(options.countAs ? [options.countAs] : []));
}

/**
 * A change of one key, recorded only while the key matches `condition` (a SQL condition on its
 * row, such as ROTATABLE_KEY). Put before the statement that makes the change, in the same batch:
 * a change that did not happen (a key revoked twice) leaves no row.
 */
export function keyChangeStatement(
  db: D1Database,
  change: { appId: string; keyId: string; at: number; actor: string; action: AppChangeAction; detail: Record<string, unknown> },
  condition: KeyCondition,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO app_changes (app_id, at, actor, action, detail_json)
       SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM api_keys WHERE app_id = ?1 AND id = ?6 AND ${condition})`,
    )
    .bind(change.appId, change.at, change.actor, change.action, JSON.stringify(change.detail), change.keyId);
}

export async function listAppChanges(db: D1Database, appId: string, limit: number): Promise<AppChangeRow[]> {
  const { results } = await db.prepare('SELECT * FROM app_changes WHERE app_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2').bind(appId, limit).all();
  return results.map((row) => AppChangeRow.parse(row));
}
