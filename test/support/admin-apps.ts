import { env } from 'cloudflare:test';
import { expect } from 'vitest';
import { adminFetch } from './admin';
import { uniquePhone } from './fixtures';
import { recordingQueue, withQueue } from './recording-queue';
import { fetchWithEnv } from './worker';

/** The apps admin API as the tests call it, and what they check its answers and records with. */

export interface KeyItem {
  id: string;
  kind: 'secret' | 'publishable';
  prefix: string;
  state: 'active' | 'expiring' | 'expired' | 'revoked';
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  replacedBy: string | null;
  lastUsedAt: string | null;
}
export interface AppItem {
  id: string;
  name: string;
  settings: Record<string, unknown> | null;
  createdAt: string;
  updatedAt: string;
  disabledAt: string | null;
  keys: KeyItem[];
}
export interface Created {
  app: AppItem;
  secretKey: string;
  publishableKey: string;
}
export interface KeyMade {
  key: KeyItem;
  apiKey: string;
  replaced?: KeyItem;
}
export type ErrorBody = { error: { code: string; message: string } };

/** Calls an admin route with a JSON body (when given) and optional X-Operator; answers status, headers and parsed body. */
export async function call<T>(method: string, path: string, body?: unknown, operator?: string) {
  const headers: Record<string, string> = operator === undefined ? {} : { 'X-Operator': operator };
  const response = await adminFetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, headers: response.headers, body: await response.json<T>() };
}

export async function createApp(body: Record<string, unknown> = { name: 'Shop' }, operator?: string): Promise<Created> {
  const created = await call<Created>('POST', '/v1/admin/apps', body, operator);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body;
}

export const keyOf = (app: AppItem, kind: 'secret' | 'publishable') => app.keys.find((key) => key.kind === kind)!;

/** POST /v1/otp with `key` to a fresh number (queue recorded, nothing delivered); `origin` for publishable keys. */
export async function sendWith(key: string, options: { phoneNumber?: string; origin?: string } = {}) {
  const headers: Record<string, string> = { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' };
  if (options.origin) headers.Origin = options.origin;
  const request = new Request('https://otp.test/v1/otp', {
    method: 'POST',
    headers,
    body: JSON.stringify({ phoneNumber: options.phoneNumber ?? uniquePhone() }),
  });
  const response = await fetchWithEnv(request, withQueue(recordingQueue().binding));
  return { status: response.status, body: await response.json<{ requestId?: string } & Partial<ErrorBody>>() };
}

/** Expects `key` to be refused as an invalid key. */
export async function expectRefused(key: string) {
  const refused = await sendWith(key);
  expect(refused.status).toBe(401);
  expect(refused.body.error?.code).toBe('invalid_api_key');
}

export interface ChangeRow {
  id: number;
  app_id: string;
  at: number;
  actor: string;
  action: string;
  detail_json: string;
}

export async function changeRows(appId: string): Promise<ChangeRow[]> {
  return (await env.DB.prepare('SELECT * FROM app_changes WHERE app_id = ?1 ORDER BY id').bind(appId).all<ChangeRow>()).results;
}

export async function keyHashes(appId: string): Promise<string[]> {
  return (await env.DB.prepare('SELECT key_hash FROM api_keys WHERE app_id = ?1').bind(appId).all<{ key_hash: string }>()).results.map((row) => row.key_hash);
}

/** Asserts that `text` holds none of the keys (nor their secret part after the visible prefix) and none of the hashes. */
export function expectNoKeyMaterial(text: string, keys: readonly string[], hashes: readonly string[]) {
  expect(hashes.length).toBeGreaterThan(0);
  for (const key of keys) {
    expect(text).not.toContain(key);
    expect(text).not.toContain(key.slice(11));
  }
  for (const hash of hashes) expect(text).not.toContain(hash);
}
