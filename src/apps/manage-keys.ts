import {
  type ApiKeyRow,
  getKey,
  insertKeyStatement,
  insertSuccessorKeyStatement,
  ROTATABLE_KEY,
  replaceKeyStatement,
  revokeKeyStatement,
  UNREVOKED_KEY,
} from '../db/api-keys';
import { appChangeStatement, keyChangeStatement } from '../db/app-changes';
import { getApp } from '../db/apps';
import { ApiError } from '../errors';
import { newApiKeyId } from '../ids';
import { afterChange } from './after-change';
import { forgetCachedKeys } from './authenticate';
import { generateApiKey, type KeyKind } from './key-material';

/**
 * Operators' changes to an app's keys, each recorded in `app_changes` in the same batch (see
 * manage-apps.ts). A key's text is returned once, here, and never stored, logged or recorded:
 * records carry the key's id and visible prefix.
 */

/** The default overlap of a rotation: a day for every server holding the old key to take the new one. */
export const DEFAULT_OVERLAP_SECONDS = 86_400;
export const MAX_OVERLAP_SECONDS = 30 * 86_400;

export async function addKey(db: D1Database, input: { appId: string; kind: KeyKind; actor: string; now: number }): Promise<{ keyId: string; apiKey: string }> {
  const { appId, kind, actor, now } = input;
  if (!(await getApp(db, appId))) throw new ApiError('not_found', 'No such app');
  const id = newApiKeyId();
  const { key, hash, prefix } = await generateApiKey(kind);
  await db.batch([
    insertKeyStatement(db, { id, appId, kind, hash, prefix, now }),
    appChangeStatement(db, { appId, at: now, actor, action: 'key.created', detail: { keyId: id, kind, prefix } }),
  ]);
  afterChange({ appId, action: 'key.created', actor, keyId: id });
  return { keyId: id, apiKey: key };
}

/**
 * Replaces a key with a new one of its kind. The old key keeps working until now + overlap
 * (`expires_at`, checked against the clock on every call), then stops. A key revoked or already
 * rotated cannot be rotated (409): its successor, if any, is the one to rotate.
 */
export async function rotateKey(
  db: D1Database,
  input: { appId: string; keyId: string; overlapSeconds: number; actor: string; now: number },
): Promise<{ keyId: string; apiKey: string }> {
  const { appId, keyId, overlapSeconds, actor, now } = input;
  const old = await findKey(db, appId, keyId);
  refuseUnrotatable(old);
  const id = newApiKeyId();
  const expiresAt = now + overlapSeconds * 1000;
  const { key, hash, prefix } = await generateApiKey(old.kind);
  // Every statement holds only while the old key is rotatable, so a rotation or revocation that
  // got in first makes this batch change nothing at all (checked below), never half of it.
  const [, inserted] = await db.batch([
    keyChangeStatement(
      db,
      {
        appId,
        keyId,
        at: now,
        actor,
        action: 'key.rotated',
        detail: { keyId, prefix: old.prefix, newKeyId: id, newPrefix: prefix, overlapSeconds, expiresAt: new Date(expiresAt).toISOString() },
      },
      ROTATABLE_KEY,
    ),
    insertSuccessorKeyStatement(db, { id, appId, hash, prefix, now, replaces: keyId }),
    replaceKeyStatement(db, { appId, keyId, expiresAt, replacedBy: id }),
  ]);
  if ((inserted?.meta.changes ?? 0) !== 1) {
    refuseUnrotatable(await findKey(db, appId, keyId));
    throw new Error('the rotation wrote nothing, yet the key is still rotatable');
  }
  afterChange({ appId, action: 'key.rotated', actor, keyId });
  return { keyId: id, apiKey: key };
}

/** Ends a key at once. Revoking a revoked key changes nothing and records nothing. */
export async function revokeKey(db: D1Database, input: { appId: string; keyId: string; actor: string; now: number }): Promise<ApiKeyRow> {
  const { appId, keyId, actor, now } = input;
  const key = await findKey(db, appId, keyId);
  const [recorded] = await db.batch([
    keyChangeStatement(db, { appId, keyId, at: now, actor, action: 'key.revoked', detail: { keyId, kind: key.kind, prefix: key.prefix } }, UNREVOKED_KEY),
    revokeKeyStatement(db, { appId, keyId, now }),
  ]);
  if ((recorded?.meta.changes ?? 0) === 1) afterChange({ appId, action: 'key.revoked', actor, keyId });
  // Already revoked: nothing was written, but what this isolate cached of the key is forgotten all the same.
  else forgetCachedKeys();
  return findKey(db, appId, keyId);
}

/** A key of this app; another app's key is as unknown here as a missing one. */
async function findKey(db: D1Database, appId: string, keyId: string): Promise<ApiKeyRow> {
  const key = await getKey(db, appId, keyId);
  if (!key) throw new ApiError('not_found', 'This app has no such key');
  return key;
}

function refuseUnrotatable(key: ApiKeyRow): void {
  if (key.revoked_at !== null) throw new ApiError('key_revoked', 'This key was revoked; create a new key instead');
  if (key.replaced_by !== null) {
    throw new ApiError('key_already_rotated', `This key was already rotated; rotate its successor ${key.replaced_by} instead`, {
      details: { replacedBy: key.replaced_by },
    });
  }
}
