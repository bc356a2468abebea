import { listApps } from '../db/apps';
import { parseStoredSettings } from './app-settings';
import { KEY_CACHE_TTL_MS } from './authenticate';

/**
 * Every origin some enabled app allows, for CORS. A browser's preflight carries no key, so it can
 * only be answered against all apps; the key check on the real request then holds each
 * publishable key to its own app's origins. Read once per isolate per KEY_CACHE_TTL_MS, so an
 * origin an operator adds or removes takes effect within the same bound as a key change.
 */
let cached: { origins: ReadonlySet<string>; readAt: number } | null = null;

export async function originsOfApps(db: D1Database, now: number): Promise<ReadonlySet<string>> {
  if (cached && now - cached.readAt < KEY_CACHE_TTL_MS && now >= cached.readAt) return cached.origins;
  const origins = new Set<string>();
  for (const app of await listApps(db)) {
    if (app.disabled_at !== null) continue;
    for (const origin of parseStoredSettings(app.settings_json)?.allowedOrigins ?? []) origins.add(origin);
  }
  cached = { origins, readAt: now };
  return origins;
}

/** After an operator's change, this isolate reads the origins afresh. */
export function forgetCachedOrigins(): void {
  cached = null;
}
