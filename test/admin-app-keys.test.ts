import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { forgetCachedKeys } from '../src/apps/authenticate';
import { call, changeRows, createApp, type ErrorBody, expectRefused, type KeyMade, keyOf, sendWith } from './support/admin-apps';

const keysPath = (appId: string) => `/v1/admin/apps/${appId}/keys`;
const rotate = (appId: string, keyId: string, body?: unknown) => call<KeyMade & Partial<ErrorBody>>('POST', `${keysPath(appId)}/${keyId}/rotate`, body);
const revoke = (appId: string, keyId: string) => call<{ key: KeyMade['key'] } & Partial<ErrorBody>>('DELETE', `${keysPath(appId)}/${keyId}`);

describe('POST /v1/admin/apps/{appId}/keys', () => {
  it('adds a key of the kind asked for, shown in full once; it works at once', async () => {
    const { app } = await createApp();
    const added = await call<KeyMade>('POST', keysPath(app.id), { kind: 'secret' });
    expect(added.status).toBe(201);
    expect(added.headers.get('Cache-Control')).toBe('no-store');
    expect(added.body.apiKey).toMatch(/^sk_[A-Za-z0-9]{40}$/);
    expect(added.body.key).toMatchObject({ kind: 'secret', prefix: added.body.apiKey.slice(0, 11), state: 'active' });
    expect((await sendWith(added.body.apiKey)).status).toBe(202);
    const refused = await call<ErrorBody>('POST', keysPath(app.id), { kind: 'root' });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/^kind: /);
    expect((await call<ErrorBody>('POST', keysPath('app_doesnotexist'), { kind: 'secret' })).status).toBe(404);
  });
});

describe('rotation', () => {
  it('old and new keys both work during the overlap; after it, the old one is refused with 401 invalid_api_key', async () => {
    const { app, secretKey } = await createApp();
    const old = keyOf(app, 'secret');
    expect((await sendWith(secretKey)).status).toBe(202);
    const before = Date.now();
    const rotated = await rotate(app.id, old.id, { overlapSeconds: 3600 });
    expect(rotated.status).toBe(201);
    expect(rotated.headers.get('Cache-Control')).toBe('no-store');
    const { key, apiKey, replaced } = rotated.body;
    expect(apiKey).toMatch(/^sk_[A-Za-z0-9]{40}$/);
    expect(key).toMatchObject({ kind: 'secret', state: 'active', prefix: apiKey.slice(0, 11) });
    expect(replaced).toMatchObject({ id: old.id, state: 'expiring', replacedBy: key.id });
    const expiresAt = Date.parse(replaced!.expiresAt!);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 3_600_000);

    expect((await sendWith(secretKey)).status).toBe(202);
    expect((await sendWith(apiKey)).status).toBe(202);

    // The overlap ends: the expiry is moved to just before now, as the clock passing it would.
    await env.DB.prepare('UPDATE api_keys SET expires_at = ?2 WHERE id = ?1')
      .bind(old.id, Date.now() - 1)
      .run();
    forgetCachedKeys();
    await expectRefused(secretKey);
    expect((await sendWith(apiKey)).status).toBe(202);
    const state = await call<{ app: { keys: KeyMade['key'][] } }>('GET', `/v1/admin/apps/${app.id}`);
    expect(state.body.app.keys.find((item) => item.id === old.id)!.state).toBe('expired');
  });

  it('with no overlap the old key stops at once in this isolate, though it was cached; the default overlap is a day', async () => {
    const { app, secretKey, publishableKey } = await createApp({ name: 'Rotated', settings: { allowedOrigins: ['https://shop.example'] } });
    expect((await sendWith(secretKey)).status).toBe(202);
    const rotated = await rotate(app.id, keyOf(app, 'secret').id, { overlapSeconds: 0 });
    expect(rotated.status).toBe(201);
    await expectRefused(secretKey);
    expect((await sendWith(rotated.body.apiKey)).status).toBe(202);

    const before = Date.now();
    const byDefault = await rotate(app.id, keyOf(app, 'publishable').id);
    expect(byDefault.status).toBe(201);
    expect(byDefault.body.apiKey).toMatch(/^pk_/);
    expect(Date.parse(byDefault.body.replaced!.expiresAt!) - before).toBeGreaterThanOrEqual(86_400_000);
    expect(Date.parse(byDefault.body.replaced!.expiresAt!) - Date.now()).toBeLessThanOrEqual(86_400_000);
    expect((await sendWith(publishableKey, { origin: 'https://shop.example' })).status).toBe(202);
  });

  it('refuses an overlap out of range (400), a rotated key (409 key_already_rotated) and a revoked key (409 key_revoked)', async () => {
    const { app } = await createApp();
    const secret = keyOf(app, 'secret');
    for (const overlapSeconds of [-1, 30 * 86_400 + 1, 1.5, '60']) {
      const refused = await rotate(app.id, secret.id, { overlapSeconds });
      expect(refused.status, String(overlapSeconds)).toBe(400);
      expect(refused.body.error!.message).toMatch(/^overlapSeconds: /);
    }
    const rotated = await rotate(app.id, secret.id, { overlapSeconds: 30 * 86_400 });
    expect(rotated.status).toBe(201);
    const again = await rotate(app.id, secret.id);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'key_already_rotated', replacedBy: rotated.body.key.id });
    const publishable = keyOf(app, 'publishable');
    expect((await revoke(app.id, publishable.id)).status).toBe(200);
    const revoked = await rotate(app.id, publishable.id);
    expect(revoked.status).toBe(409);
    expect(revoked.body.error!.code).toBe('key_revoked');
    expect((await changeRows(app.id)).map((row) => row.action)).toEqual(['app.created', 'key.rotated', 'key.revoked']);
  });

  it('two rotations of one key at once make one successor: the other answers 409 and records nothing', async () => {
    const { app } = await createApp();
    const secret = keyOf(app, 'secret');
    const answers = await Promise.all([rotate(app.id, secret.id), rotate(app.id, secret.id)]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 409]);
    const keys = await env.DB.prepare('SELECT id FROM api_keys WHERE app_id = ?1').bind(app.id).all();
    expect(keys.results).toHaveLength(3);
    expect((await changeRows(app.id)).map((row) => row.action)).toEqual(['app.created', 'key.rotated']);
  });
});

describe('revocation', () => {
  it('a revoked key answers 401 at once in this isolate, though it was cached; revoking again changes nothing', async () => {
    const { app, secretKey } = await createApp();
    const secret = keyOf(app, 'secret');
    expect((await sendWith(secretKey)).status).toBe(202);
    const revoked = await revoke(app.id, secret.id);
    expect(revoked.status).toBe(200);
    expect(revoked.headers.get('Cache-Control')).toBe('no-store');
    expect(revoked.body.key).toMatchObject({ id: secret.id, state: 'revoked' });
    await expectRefused(secretKey);
    const again = await revoke(app.id, secret.id);
    expect(again.status).toBe(200);
    expect(again.body.key!.revokedAt).toBe(revoked.body.key!.revokedAt);
    expect((await changeRows(app.id)).map((row) => row.action)).toEqual(['app.created', 'key.revoked']);
  });

  it("another app's key cannot be rotated or revoked through this app's path (404), and keeps working", async () => {
    const mine = await createApp({ name: 'Mine' });
    const theirs = await createApp({ name: 'Theirs' });
    const theirKey = keyOf(theirs.app, 'secret').id;
    const rotated = await rotate(mine.app.id, theirKey);
    const revoked = await revoke(mine.app.id, theirKey);
    expect([rotated.status, revoked.status]).toEqual([404, 404]);
    expect(rotated.body.error!.code).toBe('not_found');
    expect((await sendWith(theirs.secretKey)).status).toBe(202);
    expect((await revoke(mine.app.id, 'key_doesnotexist')).status).toBe(404);
    expect((await revoke('app_doesnotexist', theirKey)).status).toBe(404);
    expect((await changeRows(mine.app.id)).map((row) => row.action)).toEqual(['app.created']);
    expect((await changeRows(theirs.app.id)).map((row) => row.action)).toEqual(['app.created']);
  });
});
