import type { Config } from '../config';
import { findKeyByHash, type KeyWithApp, recordKeyUse } from '../db/api-keys';
import { errorName, logWarn } from '../log';
import { type AppSettings, type EffectiveSettings, effectiveSettings, parseStoredSettings } from './app-settings';
import { hashApiKey, isDevelopmentKey, type KeyKind, keyKindOf } from './key-material';

/** Who is calling: the app a valid key belongs to, and which key. */
export interface AppCaller {
  appId: string;
  appName: string;
  keyId: string;
  keyKind: KeyKind;
  settings: EffectiveSettings;
}

export type KeyRefusal = 'malformed' | 'unknown' | 'revoked' | 'expired' | 'app_disabled' | 'development_key_outside_development';
export type Authentication = { ok: true; caller: AppCaller } | { ok: false; reason: KeyRefusal } | { ok: false; reason: 'settings_unreadable'; appId: string };

/**
 * How long an isolate trusts what it read of a key. A revoked or disabled key stops working
 * everywhere within this bound (the isolate that revoked it forgets it at once); an expiry set by
 * a rotation is checked against the clock on every call, so it holds to the millisecond.
 */
export const KEY_CACHE_TTL_MS = 30_000;
/** An isolate writes a key's `last_used_at` at most this often. */
export const KEY_USE_RECORD_INTERVAL_MS = 60_000;
const KEY_CACHE_MAX_ENTRIES = 1000;

interface CachedKey {
  row: KeyWithApp;
  settings: AppSettings | null;
  fetchedAt: number;
  useRecordedAt: number;
}

const cache = new Map<string, CachedKey>();

/** Forgets every cached key: after an operator's change, this isolate sees it at once. */
export function forgetCachedKeys(): void {
  cache.clear();
}

/**
 * Finds the app of a presented key: one indexed D1 read per key and isolate every
 * KEY_CACHE_TTL_MS, nothing otherwise. Unknown keys are not cached (they are read each time; the
 * format check above keeps garbage from reaching D1 at all).
 */
export async function authenticateKey(
  db: D1Database,
  config: Config,
  presented: string,
  options: { now: number; waitUntil: (promise: Promise<unknown>) => void },
): Promise<Authentication> {
  const kind = keyKindOf(presented);
  if (!kind) return { ok: false, reason: 'malformed' };
  if (isDevelopmentKey(presented) && config.environment !== 'development') return { ok: false, reason: 'development_key_outside_development' };
  const hash = await hashApiKey(presented);
  const { now } = options;
  let entry = cache.get(hash);
  if (!entry || now - entry.fetchedAt >= KEY_CACHE_TTL_MS || now < entry.fetchedAt) {
    const row = await findKeyByHash(db, hash);
    if (!row) {
      cache.delete(hash);
      return { ok: false, reason: 'unknown' };
    }
    entry = { row, settings: parseStoredSettings(row.settings_json), fetchedAt: now, useRecordedAt: entry?.useRecordedAt ?? 0 };
    remember(hash, entry);
  }
  const { row } = entry;
  if (row.revoked_at !== null && row.revoked_at <= now) return { ok: false, reason: 'revoked' };
  if (row.expires_at !== null && row.expires_at <= now) return { ok: false, reason: 'expired' };
  if (row.app_disabled_at !== null && row.app_disabled_at <= now) return { ok: false, reason: 'app_disabled' };
  if (!entry.settings) return { ok: false, reason: 'settings_unreadable', appId: row.app_id };

  if (now - entry.useRecordedAt >= KEY_USE_RECORD_INTERVAL_MS) {
    entry.useRecordedAt = now;
    options.waitUntil(recordKeyUse(db, row.id, now).catch((error) => logWarn('app_key.last_use_not_recorded', { keyId: row.id, error: errorName(error) })));
  }
  return {
    ok: true,
    caller: { appId: row.app_id, appName: row.app_name, keyId: row.id, keyKind: kind, settings: effectiveSettings(config, entry.settings) },
  };
}

function remember(hash: string, entry: CachedKey) {
  cache.delete(hash);
  cache.set(hash, entry);
  // Oldest first: a Map iterates in insertion order, and a refreshed entry was re-inserted above.
  while (cache.size > KEY_CACHE_MAX_ENTRIES) cache.delete(cache.keys().next().value!);
}
