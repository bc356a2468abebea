import type { Config } from '../config';
import { appSettingsJson } from '../db/apps';
import { logError } from '../log';
import { type EffectiveSettings, effectiveSettings, parseStoredSettings } from './app-settings';

/**
 * The effective settings of the given apps, read in one query: for work that runs without a
 * caller's key (queue consumers, resends). An app whose settings no longer parse is left out (its
 * requests run with the deployment's defaults) and reported.
 */
export async function settingsOfApps(db: D1Database, config: Config, appIds: ReadonlyArray<string | null>): Promise<Map<string, EffectiveSettings>> {
  const ids = [...new Set(appIds.filter((id): id is string => id !== null))];
  const stored = await appSettingsJson(db, ids);
  const settings = new Map<string, EffectiveSettings>();
  for (const [id, json] of stored) {
    const parsed = parseStoredSettings(json);
    if (parsed) settings.set(id, effectiveSettings(config, parsed));
    else logError('app.settings_unreadable', { appId: id });
  }
  return settings;
}
