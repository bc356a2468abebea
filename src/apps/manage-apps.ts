import { insertKeyStatement } from '../db/api-keys';
import { type AppChangeAction, appChangeStatement } from '../db/app-changes';
import { getApp, insertAppStatement, updateAppStatement } from '../db/apps';
import { ApiError } from '../errors';
import { newApiKeyId, newAppId } from '../ids';
import { afterChange } from './after-change';
import { type AppSettings, parseStoredSettings } from './app-settings';
import { generateApiKey, type KeyKind } from './key-material';

/**
 * Operators' changes to apps. Each change and its `app_changes` row are written in one D1 batch
 * (one transaction): no change goes unrecorded, no record names a change that did not happen.
 * After each, this isolate forgets the keys it cached (after-change.ts).
 */

export interface AppPatch {
  name?: string;
  /** The whole settings: they replace the stored ones. */
  settings?: AppSettings;
  disabled?: boolean;
}

/** A new app with one secret and one publishable key; the keys' text exists only in this answer. */
export async function createApp(
  db: D1Database,
  input: { name: string; settings: AppSettings; actor: string; now: number },
): Promise<{ appId: string; secretKey: string; publishableKey: string }> {
  const { name, settings, actor, now } = input;
  const appId = newAppId();
  const keys = await Promise.all(
    (['secret', 'publishable'] as const).map(async (kind: KeyKind) => ({ id: newApiKeyId(), kind, ...(await generateApiKey(kind)) })),
  );
  await db.batch([
    insertAppStatement(db, { id: appId, name, settingsJson: JSON.stringify(settings), now }),
    ...keys.map((key) => insertKeyStatement(db, { id: key.id, appId, kind: key.kind, hash: key.hash, prefix: key.prefix, now })),
    appChangeStatement(db, {
      appId,
      at: now,
      actor,
      action: 'app.created',
      detail: { name, settings: Object.keys(settings).sort(), keys: keys.map((key) => ({ keyId: key.id, kind: key.kind, prefix: key.prefix })) },
    }),
  ]);
  afterChange({ appId, action: 'app.created', actor });
  const [secret, publishable] = keys;
  return { appId, secretKey: secret!.key, publishableKey: publishable!.key };
}

/**
 * Changes an app's name, settings or disabled state. What actually changes is recorded: new
 * settings are compared with the stored ones name by name (the record names the settings, never
 * their values, which may hold test numbers' codes); a patch that changes nothing writes nothing.
 */
export async function updateApp(db: D1Database, appId: string, patch: AppPatch, options: { actor: string; now: number }): Promise<void> {
  const app = await getApp(db, appId);
  if (!app) throw new ApiError('not_found', 'No such app');
  const { actor, now } = options;
  const changedFields: string[] = [];
  if (patch.name !== undefined && patch.name !== app.name) changedFields.push('name');
  if (patch.settings !== undefined) changedFields.push(...changedSettings(parseStoredSettings(app.settings_json), patch.settings));
  const records: Array<{ action: AppChangeAction; detail: Record<string, unknown> }> = [];
  if (changedFields.length > 0) records.push({ action: 'app.updated', detail: { changed: changedFields } });
  const wasDisabled = app.disabled_at !== null;
  if (patch.disabled !== undefined && patch.disabled !== wasDisabled) records.push({ action: patch.disabled ? 'app.disabled' : 'app.enabled', detail: {} });
  if (records.length === 0) return;

  await db.batch([
    updateAppStatement(db, {
      id: appId,
      name: changedFields.includes('name') ? patch.name : undefined,
      settingsJson: patch.settings && changedFields.some((field) => field.startsWith('settings')) ? JSON.stringify(patch.settings) : undefined,
      disabled: patch.disabled !== wasDisabled ? patch.disabled : undefined,
      now,
    }),
    ...records.map((record) => appChangeStatement(db, { appId, at: now, actor, ...record })),
  ]);
  for (const record of records) afterChange({ appId, action: record.action, actor });
}

/** `settings.<name>` for each setting that differs; `settings` alone when the stored ones were unreadable. */
function changedSettings(stored: AppSettings | null, next: AppSettings): string[] {
  if (stored === null) return ['settings'];
  const names = [...new Set([...Object.keys(stored), ...Object.keys(next)])].sort() as Array<keyof AppSettings>;
  return names.filter((name) => JSON.stringify(stored[name]) !== JSON.stringify(next[name])).map((name) => `settings.${name}`);
}
