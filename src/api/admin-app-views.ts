import { parseStoredSettings } from '../apps/app-settings';
import { keyState } from '../apps/key-state';
import type { ApiKeyRow } from '../db/api-keys';
import type { AppChangeRow } from '../db/app-changes';
import type { AppRow } from '../db/apps';

/** What operators see of apps, their keys and their changes: ISO times, camelCase, never a key's hash. */

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function appKeyView(key: ApiKeyRow, now: number) {
  return {
    id: key.id,
    kind: key.kind,
    prefix: key.prefix,
    state: keyState(key, now),
    createdAt: iso(key.created_at)!,
    expiresAt: iso(key.expires_at),
    revokedAt: iso(key.revoked_at),
    replacedBy: key.replaced_by,
    lastUsedAt: iso(key.last_used_at),
  };
}

export function appView(app: AppRow, keys: readonly ApiKeyRow[], now: number) {
  return {
    id: app.id,
    name: app.name,
    settings: parseStoredSettings(app.settings_json),
    createdAt: iso(app.created_at)!,
    updatedAt: iso(app.updated_at)!,
    disabledAt: iso(app.disabled_at),
    keys: keys.map((key) => appKeyView(key, now)),
  };
}

export function appChangeView(change: AppChangeRow) {
  return {
    id: change.id,
    at: iso(change.at)!,
    actor: change.actor,
    action: change.action,
    detail: parseDetail(change.detail_json),
  };
}

function parseDetail(json: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(json);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
