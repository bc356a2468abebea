import { describe, expect, it } from 'vitest';
import { adminJson } from './support/admin';
import {
  type AppItem,
  call,
  changeRows,
  createApp,
  type ErrorBody,
  expectNoKeyMaterial,
  expectRefused,
  keyHashes,
  keyOf,
  sendWith,
} from './support/admin-apps';

type Detail = { app: AppItem; changes: Array<{ actor: string; action: string; detail: Record<string, unknown> }> };

describe('POST /v1/admin/apps', () => {
  it('answers 201 with the app and both keys in full, once; the secret key sends at POST /v1/otp and the publishable one from an allowed origin', async () => {
    const created = await call<{ app: AppItem; secretKey: string; publishableKey: string }>('POST', '/v1/admin/apps', {
      name: 'Checkout',
      settings: { allowedOrigins: ['https://shop.example'], otpLength: 8 },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('Cache-Control')).toBe('no-store');
    const { app, secretKey, publishableKey } = created.body;
    expect(created.headers.get('Location')).toBe(`https://otp.test/v1/admin/apps/${app.id}`);
    expect(secretKey).toMatch(/^sk_[A-Za-z0-9]{40}$/);
    expect(publishableKey).toMatch(/^pk_[A-Za-z0-9]{40}$/);
    expect(app).toMatchObject({ name: 'Checkout', settings: { allowedOrigins: ['https://shop.example'], otpLength: 8 }, disabledAt: null });
    expect(keyOf(app, 'secret')).toMatchObject({ prefix: secretKey.slice(0, 11), state: 'active', expiresAt: null, revokedAt: null, replacedBy: null });
    expect(keyOf(app, 'publishable')).toMatchObject({ prefix: publishableKey.slice(0, 11), state: 'active' });

    expect((await sendWith(secretKey)).status).toBe(202);
    expect((await sendWith(publishableKey, { origin: 'https://shop.example' })).status).toBe(202);
    expect((await sendWith(publishableKey, { origin: 'https://elsewhere.example' })).status).toBe(403);
  });

  it('the listing and the detail show prefixes, states and last use, never a key or its hash', async () => {
    const { app, secretKey, publishableKey } = await createApp({ name: 'Listed' });
    expect((await sendWith(secretKey)).status).toBe(202);
    const listing = await adminJson<{ apps: AppItem[] }>('/v1/admin/apps');
    const detail = await adminJson<Detail>(`/v1/admin/apps/${app.id}`);
    expect(listing.status).toBe(200);
    expect(detail.status).toBe(200);
    const listed = listing.body.apps.find((item) => item.id === app.id)!;
    expect(listed.keys.map((key) => key.id).sort()).toEqual(app.keys.map((key) => key.id).sort());
    expect(keyOf(listed, 'secret').lastUsedAt).not.toBeNull();
    expect(keyOf(listed, 'publishable').lastUsedAt).toBeNull();
    expect(Object.keys(keyOf(listed, 'secret')).sort()).toEqual([
      'createdAt',
      'expiresAt',
      'id',
      'kind',
      'lastUsedAt',
      'prefix',
      'replacedBy',
      'revokedAt',
      'state',
    ]);
    expect(detail.body.app).toEqual(listed);
    const hashes = await keyHashes(app.id);
    expectNoKeyMaterial(JSON.stringify(listing.body), [secretKey, publishableKey], hashes);
    expectNoKeyMaterial(JSON.stringify(detail.body), [secretKey, publishableKey], hashes);
  });

  it('refuses bad input with 400 naming the field, and writes nothing', async () => {
    const before = (await adminJson<{ apps: AppItem[] }>('/v1/admin/apps')).body.apps.length;
    const cases: Array<[unknown, RegExp]> = [
      [{ name: '' }, /^name: /],
      [{ name: 'x'.repeat(101) }, /^name: /],
      [{}, /^name: /],
      [{ name: 'A', settings: { otpLength: 12 } }, /^settings\.otpLength: /],
      [{ name: 'A', settings: { allowedOrigins: ['https://shop.example/path'] } }, /^settings\.allowedOrigins\.0: must be an exact origin/],
      [{ name: 'A', settings: { testNumbers: [{ phoneNumber: '12345', code: '1234' }] } }, /^settings\.testNumbers\.0\.phoneNumber: /],
      [{ name: 'A', settings: { smsPerDay: 5 } }, /^settings: .*smsPerDay/],
      [{ name: 'A', owner: 'me' }, /owner/],
    ];
    for (const [body, message] of cases) {
      const refused = await call<ErrorBody>('POST', '/v1/admin/apps', body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.error.code).toBe('invalid_request');
      expect(refused.body.error.message).toMatch(message);
    }
    expect((await adminJson<{ apps: AppItem[] }>('/v1/admin/apps')).body.apps.length).toBe(before);
  });
});

describe('PATCH /v1/admin/apps/{appId}', () => {
  it('replaces the settings whole, applies them at once in this isolate, and records the names of what changed', async () => {
    const { app, secretKey } = await createApp({ name: 'Patched', settings: { otpLength: 6, dailySmsBudget: 500 } });
    expect((await sendWith(secretKey, { phoneNumber: '+919812345678' })).status).toBe(202);
    const patched = await call<{ app: AppItem }>(
      'PATCH',
      `/v1/admin/apps/${app.id}`,
      { name: 'Renamed', settings: { allowedCountryCodes: ['44'], otpLength: 6 } },
      'bob',
    );
    expect(patched.status).toBe(200);
    expect(patched.headers.get('Cache-Control')).toBe('no-store');
    expect(patched.body.app).toMatchObject({ name: 'Renamed', settings: { allowedCountryCodes: ['44'], otpLength: 6 } });
    // The key was cached by the send above; the new settings hold for its next call all the same.
    const refused = await sendWith(secretKey, { phoneNumber: '+919812345679' });
    expect(refused.status).toBe(422);
    expect(refused.body.error?.code).toBe('country_not_allowed');
    const rows = await changeRows(app.id);
    expect(rows.at(-1)).toMatchObject({ actor: 'bob', action: 'app.updated' });
    expect(JSON.parse(rows.at(-1)!.detail_json)).toEqual({ changed: ['name', 'settings.allowedCountryCodes', 'settings.dailySmsBudget'] });
  });

  it('refuses invalid settings with 400 naming the setting, an empty patch, and an unknown app (404); nothing is recorded', async () => {
    const { app } = await createApp({ name: 'Strict' });
    const refusals: Array<[unknown, RegExp]> = [
      [{ settings: { otpTtlSeconds: 5 } }, /^settings\.otpTtlSeconds: /],
      [{ settings: { turnstileRequired: 'yes' } }, /^settings\.turnstileRequired: /],
      [
        {
          settings: {
            testNumbers: [
              { phoneNumber: '+15005550006', code: '1234' },
              { phoneNumber: '+15005550006', code: '9999' },
            ],
          },
        },
        /each phone number may appear once/,
      ],
      [{ disabled: 'true' }, /^disabled: /],
      [{}, /at least one of name, settings, disabled/],
    ];
    for (const [body, message] of refusals) {
      const refused = await call<ErrorBody>('PATCH', `/v1/admin/apps/${app.id}`, body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.error.code).toBe('invalid_request');
      expect(refused.body.error.message).toMatch(message);
    }
    const unknown = await call<ErrorBody>('PATCH', '/v1/admin/apps/app_doesnotexist', { name: 'X' });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('Cache-Control')).toBe('no-store');
    expect((await call<ErrorBody>('GET', '/v1/admin/apps/app_doesnotexist')).status).toBe(404);
    expect((await call<ErrorBody>('GET', '/v1/admin/apps/not-an-app')).status).toBe(400);
    expect((await changeRows(app.id)).map((row) => row.action)).toEqual(['app.created']);
  });

  it('disabling stops every key of the app at once; enabling brings them back; a patch that changes nothing records nothing', async () => {
    const { app, secretKey, publishableKey } = await createApp({ name: 'Switched', settings: { allowedOrigins: ['https://shop.example'] } });
    expect((await sendWith(secretKey)).status).toBe(202);
    const disabled = await call<{ app: AppItem }>('PATCH', `/v1/admin/apps/${app.id}`, { disabled: true });
    expect(disabled.body.app.disabledAt).not.toBeNull();
    await expectRefused(secretKey);
    const byBrowser = await sendWith(publishableKey, { origin: 'https://shop.example' });
    expect(byBrowser.status).toBe(401);
    expect((await call('PATCH', `/v1/admin/apps/${app.id}`, { disabled: true })).status).toBe(200);
    const enabled = await call<{ app: AppItem }>('PATCH', `/v1/admin/apps/${app.id}`, { disabled: false });
    expect(enabled.body.app.disabledAt).toBeNull();
    expect((await sendWith(secretKey)).status).toBe(202);
    expect((await changeRows(app.id)).map((row) => [row.action, row.actor])).toEqual([
      ['app.created', 'admin'],
      ['app.disabled', 'admin'],
      ['app.enabled', 'admin'],
    ]);
  });
});

describe('the change log', () => {
  it('every change leaves exactly one row, with its actor, in order, holding no key and no hash; the detail shows them newest first', async () => {
    const { app, secretKey, publishableKey } = await createApp({ name: 'Audited', settings: { otpLength: 6 } }, 'alice');
    const secretId = keyOf(app, 'secret').id;
    await call('PATCH', `/v1/admin/apps/${app.id}`, { settings: { otpLength: 8 } }, 'alice');
    await call('PATCH', `/v1/admin/apps/${app.id}`, { disabled: true }, 'carol');
    await call('PATCH', `/v1/admin/apps/${app.id}`, { disabled: false });
    const added = await call<{ key: { id: string }; apiKey: string }>('POST', `/v1/admin/apps/${app.id}/keys`, { kind: 'publishable' }, 'alice');
    const rotated = await call<{ key: { id: string }; apiKey: string }>(
      'POST',
      `/v1/admin/apps/${app.id}/keys/${secretId}/rotate`,
      { overlapSeconds: 60 },
      'alice',
    );
    await call('DELETE', `/v1/admin/apps/${app.id}/keys/${added.body.key.id}`, undefined, 'Dave Operator');
    await call('DELETE', `/v1/admin/apps/${app.id}/keys/${added.body.key.id}`, undefined, 'Dave Operator');

    const rows = await changeRows(app.id);
    expect(rows.map((row) => [row.action, row.actor])).toEqual([
      ['app.created', 'alice'],
      ['app.updated', 'alice'],
      ['app.disabled', 'carol'],
      ['app.enabled', 'admin'],
      ['key.created', 'alice'],
      ['key.rotated', 'alice'],
      ['key.revoked', 'Dave Operator'],
    ]);
    expect(JSON.parse(rows[1]!.detail_json)).toEqual({ changed: ['settings.otpLength'] });
    expect(JSON.parse(rows[5]!.detail_json)).toMatchObject({ keyId: secretId, newKeyId: rotated.body.key.id, overlapSeconds: 60 });
    const keys = [secretKey, publishableKey, added.body.apiKey, rotated.body.apiKey];
    expectNoKeyMaterial(JSON.stringify(rows), keys, await keyHashes(app.id));

    const detail = await adminJson<Detail>(`/v1/admin/apps/${app.id}`);
    expect(detail.body.changes.map((change) => change.action)).toEqual(rows.map((row) => row.action).reverse());
    expect(detail.body.changes[0]).toMatchObject({ actor: 'Dave Operator', detail: { keyId: added.body.key.id, kind: 'publishable' } });
  });

  it('X-Operator must be 1 to 64 printable ASCII characters: otherwise 400, and nothing happens', async () => {
    const { app } = await createApp({ name: 'Operated' });
    const before = await adminJson<{ apps: AppItem[] }>('/v1/admin/apps');
    for (const operator of ['', 'x'.repeat(65), 'tab\there', 'del\u007f']) {
      for (const [method, path, body] of [
        ['POST', '/v1/admin/apps', { name: 'Nope' }],
        ['PATCH', `/v1/admin/apps/${app.id}`, { name: 'Nope' }],
        ['POST', `/v1/admin/apps/${app.id}/keys`, { kind: 'secret' }],
        ['DELETE', `/v1/admin/apps/${app.id}/keys/${app.keys[0]!.id}`, undefined],
      ] as const) {
        const refused = await call<ErrorBody>(method, path, body, operator);
        expect(refused.status, `${method} ${path} with ${JSON.stringify(operator)}`).toBe(400);
        expect(refused.body.error).toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/^x-operator: /) });
      }
    }
    expect((await adminJson<{ apps: AppItem[] }>('/v1/admin/apps')).body).toEqual(before.body);
    expect(await changeRows(app.id)).toHaveLength(1);
    expect((await call('PATCH', `/v1/admin/apps/${app.id}`, { name: 'Fine' }, `${'x'.repeat(63)}~`)).status).toBe(200);
  });
});
