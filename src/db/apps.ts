import { z } from 'zod';

/** `apps`: one row per app, its settings as JSON (checked by apps/app-settings.ts). */

export const AppRow = z.object({
  id: z.string(),
  name: z.string(),
  settings_json: z.string(),
  created_at: z.number(),
  updated_at: z.number(),
  disabled_at: z.number().nullable(),
});
export type AppRow = z.infer<typeof AppRow>;

export function insertAppStatement(db: D1Database, app: { id: string; name: string; settingsJson: string; now: number }): D1PreparedStatement {
  return db
    .prepare('INSERT INTO apps (id, name, settings_json, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)')
    .bind(app.id, app.name, app.settingsJson, app.now);
}

/** Inserts the app unless one with its id exists (the seeded development app). */
export function insertAppIfMissingStatement(db: D1Database, app: { id: string; name: string; settingsJson: string; now: number }): D1PreparedStatement {
  return db
    .prepare('INSERT OR IGNORE INTO apps (id, name, settings_json, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)')
    .bind(app.id, app.name, app.settingsJson, app.now);
}

export async function getApp(db: D1Database, id: string): Promise<AppRow | null> {
  const row = await db.prepare('SELECT * FROM apps WHERE id = ?1').bind(id).first();
  return row ? AppRow.parse(row) : null;
}

/** Every app, oldest first: a deployment has tens of apps, not millions. */
export async function listApps(db: D1Database): Promise<AppRow[]> {
  const { results } = await db.prepare('SELECT * FROM apps ORDER BY created_at, id').all();
  return results.map((row) => AppRow.parse(row));
}

/** The settings of the given apps, for the consumer (template ids) and the sandbox listing. */
export async function appSettingsJson(db: D1Database, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const placeholders = ids.map((_, index) => `?${index + 1}`).join(', ');
  const { results } = await db
    .prepare(`SELECT id, settings_json FROM apps WHERE id IN (${placeholders})`)
    .bind(...ids)
    .all<{ id: string; settings_json: string }>();
  return new Map(results.map((row) => [row.id, row.settings_json]));
}

/**
 * Sets the given fields of an app and leaves the others as they are in D1 (not as they were read),
 * so two operators changing different fields at once both keep their change. `disabled: true`
 * keeps an earlier disabling time; `false` clears it.
 */
export function updateAppStatement(
  db: D1Database,
  app: { id: string; name?: string; settingsJson?: string; disabled?: boolean; now: number },
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE apps SET name = COALESCE(?2, name), settings_json = COALESCE(?3, settings_json),
         disabled_at = CASE ?4 WHEN 1 THEN COALESCE(disabled_at, ?5) WHEN 0 THEN NULL ELSE disabled_at END, updated_at = ?5
       WHERE id = ?1`,
    )
    .bind(app.id, app.name ?? null, app.settingsJson ?? null, app.disabled === undefined ? null : app.disabled ? 1 : 0, app.now);
}
