import { z } from 'zod';

/** `app_changes`: who changed what of an app and when. Details never hold a key. */

export const AppChangeRow = z.object({
  id: z.number(),
  app_id: z.string(),
  at: z.number(),
  actor: z.string(),
  action: z.string(),
  detail_json: z.string(),
});
export type AppChangeRow = z.infer<typeof AppChangeRow>;

export function appChangeStatement(
  db: D1Database,
  change: { appId: string; at: number; actor: string; action: string; detail: Record<string, unknown> },
): D1PreparedStatement {
  return db
    .prepare('INSERT INTO app_changes (app_id, at, actor, action, detail_json) VALUES (?1, ?2, ?3, ?4, ?5)')
    .bind(change.appId, change.at, change.actor, change.action, JSON.stringify(change.detail));
}

export async function listAppChanges(db: D1Database, appId: string, limit: number): Promise<AppChangeRow[]> {
  const { results } = await db.prepare('SELECT * FROM app_changes WHERE app_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2').bind(appId, limit).all();
  return results.map((row) => AppChangeRow.parse(row));
}
