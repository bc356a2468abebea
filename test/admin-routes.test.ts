import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/api/app';
import { recordPhoneLock } from '../src/db/phone-locks';
import { ADMIN_TOKEN, adminFetch, adminJson } from './support/admin';
import { seedRequest, uniquePhone } from './support/fixtures';
import { cspDirectives, expectOwnFilesOnly } from './support/page-files';
import { recordingQueue, withQueue } from './support/recording-queue';

const spec = async () =>
  (await (await SELF.fetch('https://otp.test/openapi.json')).json<{ paths: Record<string, Record<string, { security?: unknown[] }>> }>()).paths;

/**
 * Every admin route the app registers, read from its routes (not from the OpenAPI document, which
 * a route can be missing from): a route added later is covered without editing this list.
 */
function adminRoutes(): Array<{ method: string; path: string }> {
  const seen = new Set<string>();
  const routes: Array<{ method: string; path: string }> = [];
  for (const { method, path } of createApp().routes) {
    // Middleware is registered for every method, as ALL.
    if (method === 'ALL' || !path.startsWith('/v1/admin/') || seen.has(`${method} ${path}`)) continue;
    seen.add(`${method} ${path}`);
    routes.push({ method, path });
  }
  return routes;
}

const concrete = (path: string) =>
  path
    .replace(':requestId', 'otp_AAAAAAAAAAAAAAAAAAAAAA')
    .replace(':resendId', 'rsd_AAAAAAAAAAAAAAAAAAAAAA')
    .replace(':prefix', '+99999')
    .replace(':phoneNumber', '%2B919999999999')
    .replace(':name', 'sandbox')
    .replace(':appId', 'app_doesnotexist')
    .replace(':keyId', 'key_doesnotexist')
    .replace(':eventId', 'evt_AAAAAAAAAAAAAAAAAAAAAA_sent');

/** A new app through the admin API, for the routes that need one. */
async function newApp() {
  const created = await adminJson<{ app: { id: string; keys: Array<{ id: string }> } }>('/v1/admin/apps', {
    method: 'POST',
    body: JSON.stringify({ name: 'Routes' }),
  });
  expect(created.status).toBe(201);
  return { appId: created.body.app.id, keyId: created.body.app.keys[0]!.id };
}

/** A new app with a webhook, for the webhook routes. */
async function appWithWebhook() {
  const { appId } = await newApp();
  const set = await adminFetch(`/v1/admin/apps/${appId}/webhook`, { method: 'PUT', body: JSON.stringify({ url: 'https://receiver.test/hook' }) });
  expect(set.status).toBe(201);
  return appId;
}

/**
 * How to call each admin route so that, with the token, it does its job: the exact success
 * status, with real ids made first. A new admin route fails the test below until it is added here.
 */
type Call = { path: string; init?: RequestInit; status: number };
const SUCCESSFUL_CALLS: Record<string, () => Promise<Call>> = {
  'GET /v1/admin/requests': async () => ({ path: '/v1/admin/requests', status: 200 }),
  'GET /v1/admin/requests/:requestId': async () => ({ path: `/v1/admin/requests/${(await seedRequest()).id}`, status: 200 }),
  'GET /v1/admin/attempts': async () => ({ path: '/v1/admin/attempts', status: 200 }),
  'GET /v1/admin/stats': async () => ({ path: '/v1/admin/stats', status: 200 }),
  'POST /v1/admin/resends': async () => ({
    path: '/v1/admin/resends',
    init: { method: 'POST', body: JSON.stringify({ filter: { status: 'failed', since: '2001-01-01T00:00:00Z' }, dryRun: true }) },
    status: 200,
  }),
  'GET /v1/admin/resends': async () => ({ path: '/v1/admin/resends', status: 200 }),
  'GET /v1/admin/resends/:resendId': async () => {
    const created = await adminJson<{ resendId: string }>(
      '/v1/admin/resends',
      { method: 'POST', body: JSON.stringify({ filter: { status: 'failed', since: '2001-01-01T00:00:00Z' } }) },
      withQueue(recordingQueue().binding),
    );
    expect(created.status).toBe(202);
    return { path: `/v1/admin/resends/${created.body.resendId}`, status: 200 };
  },
  'GET /v1/admin/prefix-blocks': async () => ({ path: '/v1/admin/prefix-blocks', status: 200 }),
  'POST /v1/admin/prefix-blocks': async () => ({
    path: '/v1/admin/prefix-blocks',
    init: { method: 'POST', body: JSON.stringify({ prefix: '+99998', durationSeconds: 3600 }) },
    status: 201,
  }),
  'DELETE /v1/admin/prefix-blocks/:prefix': async () => {
    const blocked = await adminFetch('/v1/admin/prefix-blocks', { method: 'POST', body: JSON.stringify({ prefix: '+99997', durationSeconds: 3600 }) });
    expect(blocked.status).toBe(201);
    return { path: '/v1/admin/prefix-blocks/+99997', init: { method: 'DELETE' }, status: 200 };
  },
  'GET /v1/admin/conversion-scopes': async () => ({ path: '/v1/admin/conversion-scopes', status: 200 }),
  'PUT /v1/admin/conversion-scopes/:scope/override': async () => ({
    path: '/v1/admin/conversion-scopes/country%3A%2B999/override',
    init: { method: 'PUT', body: JSON.stringify({ mode: 'auto' }) },
    status: 200,
  }),
  'GET /v1/admin/locked-phones': async () => ({ path: '/v1/admin/locked-phones', status: 200 }),
  'DELETE /v1/admin/locked-phones/:phoneNumber': async () => {
    const phoneNumber = uniquePhone();
    await recordPhoneLock(env.DB, { phoneNumber, failures: 10, lockedUntil: Date.now() + 3_600_000 }, Date.now());
    return { path: `/v1/admin/locked-phones/${encodeURIComponent(phoneNumber)}`, init: { method: 'DELETE' }, status: 200 };
  },
  'GET /v1/admin/providers': async () => ({ path: '/v1/admin/providers', status: 200 }),
  'POST /v1/admin/providers/:name/drain': async () => ({
    path: '/v1/admin/providers/sandbox/drain',
    init: { method: 'POST', body: JSON.stringify({ operator: 'ops', reason: 'test' }) },
    status: 200,
  }),
  'POST /v1/admin/providers/:name/undrain': async () => ({ path: '/v1/admin/providers/sandbox/undrain', init: { method: 'POST' }, status: 200 }),
  'POST /v1/admin/sessions/revoke': async () => ({
    path: '/v1/admin/sessions/revoke',
    init: { method: 'POST', body: JSON.stringify({ phoneNumber: uniquePhone() }) },
    status: 200,
  }),
  'POST /v1/admin/erasures': async () => ({
    path: '/v1/admin/erasures',
    init: { method: 'POST', body: JSON.stringify({ phoneNumber: uniquePhone() }) },
    status: 200,
  }),
  'GET /v1/admin/erasures': async () => ({ path: '/v1/admin/erasures', status: 200 }),
  'POST /v1/admin/apps': async () => ({ path: '/v1/admin/apps', init: { method: 'POST', body: JSON.stringify({ name: 'Routes' }) }, status: 201 }),
  'GET /v1/admin/apps': async () => ({ path: '/v1/admin/apps', status: 200 }),
  'GET /v1/admin/apps/:appId': async () => ({ path: `/v1/admin/apps/${(await newApp()).appId}`, status: 200 }),
  'PATCH /v1/admin/apps/:appId': async () => ({
    path: `/v1/admin/apps/${(await newApp()).appId}`,
    init: { method: 'PATCH', body: JSON.stringify({ disabled: true }) },
    status: 200,
  }),
  'POST /v1/admin/apps/:appId/keys': async () => ({
    path: `/v1/admin/apps/${(await newApp()).appId}/keys`,
    init: { method: 'POST', body: JSON.stringify({ kind: 'secret' }) },
    status: 201,
  }),
  'POST /v1/admin/apps/:appId/keys/:keyId/rotate': async () => {
    const { appId, keyId } = await newApp();
    return { path: `/v1/admin/apps/${appId}/keys/${keyId}/rotate`, init: { method: 'POST' }, status: 201 };
  },
  'DELETE /v1/admin/apps/:appId/keys/:keyId': async () => {
    const { appId, keyId } = await newApp();
    return { path: `/v1/admin/apps/${appId}/keys/${keyId}`, init: { method: 'DELETE' }, status: 200 };
  },
  'GET /v1/admin/apps/:appId/webhook': async () => ({ path: `/v1/admin/apps/${await appWithWebhook()}/webhook`, status: 200 }),
  'PUT /v1/admin/apps/:appId/webhook': async () => ({
    path: `/v1/admin/apps/${(await newApp()).appId}/webhook`,
    init: { method: 'PUT', body: JSON.stringify({ url: 'https://receiver.test/hook' }) },
    status: 201,
  }),
  'DELETE /v1/admin/apps/:appId/webhook': async () => ({ path: `/v1/admin/apps/${await appWithWebhook()}/webhook`, init: { method: 'DELETE' }, status: 200 }),
  'POST /v1/admin/apps/:appId/webhook/rotate-secret': async () => ({
    path: `/v1/admin/apps/${await appWithWebhook()}/webhook/rotate-secret`,
    init: { method: 'POST' },
    status: 200,
  }),
  'GET /v1/admin/apps/:appId/webhook/deliveries': async () => ({ path: `/v1/admin/apps/${await appWithWebhook()}/webhook/deliveries`, status: 200 }),
  'GET /v1/admin/apps/:appId/webhook/deliveries/:eventId': async () => {
    const appId = await appWithWebhook();
    const { id } = await seedRequest();
    const eventId = `evt_${id.slice(4)}_sent`;
    await env.DB.prepare(
      `INSERT INTO webhook_events (id, app_id, request_id, type, occurred_at, state, next_attempt_at, retry_until)
       VALUES (?1, ?2, ?3, 'otp.sent', ?4, 'delivered', ?4, ?4)`,
    )
      .bind(eventId, appId, id, Date.now())
      .run();
    return { path: `/v1/admin/apps/${appId}/webhook/deliveries/${eventId}`, status: 200 };
  },
  'POST /v1/admin/apps/:appId/webhook/redeliver': async () => ({
    path: `/v1/admin/apps/${await appWithWebhook()}/webhook/redeliver`,
    init: { method: 'POST', body: JSON.stringify({ allFailed: true }) },
    status: 202,
  }),
  'GET /v1/admin/alerts': async () => ({ path: '/v1/admin/alerts', status: 200 }),
  'GET /v1/admin/alerts/receiver': async () => ({ path: '/v1/admin/alerts/receiver', status: 200 }),
};

const countRows = async (table: string) => (await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table}`).first<{ n: number }>())!.n;

describe('every admin route is behind the bearer token', () => {
  it('every admin route the app registers is in the OpenAPI document, with the bearer scheme', async () => {
    const paths = await spec();
    const routes = adminRoutes();
    expect(routes.length).toBe(Object.keys(SUCCESSFUL_CALLS).length);
    for (const { method, path } of routes) {
      const operation = paths[path.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation!.security, `${method} ${path}`).toEqual([{ adminBearer: [] }]);
    }
  });

  it.each([
    ['no Authorization header', undefined],
    ['a wrong token', `Bearer ${ADMIN_TOKEN}x`],
    ['the sandbox development token while ADMIN_TOKEN is set', 'Bearer sandbox-admin-token'],
  ])('with %s every admin route answers 401 and changes nothing', async (_name, authorization) => {
    const routes = adminRoutes();
    expect(routes.length).toBeGreaterThanOrEqual(Object.keys(SUCCESSFUL_CALLS).length);
    const tables = [
      'otp_requests',
      'resend_jobs',
      'prefix_blocks',
      'phone_session_revocations',
      'apps',
      'api_keys',
      'app_changes',
      'webhooks',
      'webhook_events',
      'provider_drains',
      'provider_events',
    ];
    const before = await Promise.all(tables.map(countRows));
    for (const { method, path } of routes) {
      const init: RequestInit = { method, headers: authorization ? { Authorization: authorization } : { Authorization: '' } };
      // Even a body that would otherwise be refused as 415 gets 401 first: nothing is read before the token.
      if (method === 'POST') Object.assign(init, { body: 'not json', headers: { ...init.headers, 'Content-Type': 'text/plain' } });
      const response = await adminFetch(`${concrete(path)}?limit=1&limit=2`, init);
      expect(response.status, `${method} ${path}`).toBe(401);
      expect(response.headers.get('WWW-Authenticate')).toBe('Bearer');
      expect((await response.json<{ error: { code: string } }>()).error.code).toBe('unauthorized');
    }
    expect(await Promise.all(tables.map(countRows))).toEqual(before);
  });

  it('with the token, every admin route does its job (its exact success status); a route without a call here fails', async () => {
    for (const { method, path } of adminRoutes()) {
      const key = `${method} ${path}`;
      const makeCall = SUCCESSFUL_CALLS[key];
      expect(makeCall, `${key} has no entry in SUCCESSFUL_CALLS`).toBeDefined();
      const call = await makeCall!();
      const response = await adminFetch(call.path, call.init ?? { method });
      expect(response.status, `${key}: ${await response.clone().text()}`).toBe(call.status);
    }
  });
});

describe('the status of one request, for operators', () => {
  it('answers 401 without the right token, naming nothing of the request; 200 with it', async () => {
    const { id, phoneNumber } = await seedRequest();
    for (const authorization of ['', 'Bearer wrong', `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}`, ADMIN_TOKEN]) {
      const response = await adminFetch(`/v1/admin/requests/${id}`, { headers: { Authorization: authorization } });
      expect(response.status, authorization).toBe(401);
      expect(response.headers.get('WWW-Authenticate')).toBe('Bearer');
      const text = await response.text();
      expect(JSON.parse(text).error.code).toBe('unauthorized');
      expect(text).not.toContain(phoneNumber.slice(1));
      expect(text).not.toContain(id);
    }
    const ok = await adminJson<{ request: { requestId: string; phoneNumber: string } }>(`/v1/admin/requests/${id}`);
    expect(ok.status).toBe(200);
    expect(ok.body.request).toMatchObject({ requestId: id, phoneNumber });
  });
});

describe('the dashboard page', () => {
  it('is served to anyone (it holds no data) with a strict content security policy', async () => {
    const response = await SELF.fetch('https://otp.test/admin');
    expect(response.status).toBe(200);
    expect(response.headers.get('Content-Type')).toContain('text/html');
    expect(response.headers.get('Cache-Control')).toBe('no-store');
    const directives = cspDirectives(response.headers.get('Content-Security-Policy'));
    expect(directives.get('default-src')).toEqual(["'none'"]);
    // Only this origin's own files run and apply: nothing inline, so nothing injected could.
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('style-src')).toEqual(["'self'"]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    const html = await response.text();
    const files = await expectOwnFilesOnly(html);
    expect([...files.keys()].sort()).toEqual([
      '/static/alerts.js',
      '/static/app-filter.js',
      '/static/apps.js',
      '/static/conversion-scopes.js',
      '/static/dashboard.css',
      '/static/dashboard.js',
      '/static/erasure.js',
      '/static/recent-requests.js',
    ]);
    // What the module scripts import, and what those import in turn, is this origin's too, served as a script.
    const importsOf = (text: string) => [...text.matchAll(/\bfrom '([^']+)';/g)].map((match) => match[1]!);
    const pending = [...files.values()].flatMap(importsOf);
    const imports = new Set<string>();
    while (pending.length > 0) {
      const specifier = pending.pop()!;
      expect(specifier, 'a relative import of this origin').toMatch(/^\.\/[\w-]+\.js$/);
      const name = specifier.slice(2);
      if (imports.has(name)) continue;
      imports.add(name);
      const imported = await SELF.fetch(`https://otp.test/static/${name}`);
      expect([imported.status, imported.headers.get('Content-Type')], name).toEqual([200, expect.stringMatching(/^text\/javascript\b/)]);
      pending.push(...importsOf(await imported.text()));
    }
    expect([...imports].sort()).toEqual(['app-webhook.js', 'apps-kit.js', 'dashboard-kit.js']);
    expect(html).not.toMatch(/<[^>]+\son\w+=/i);
    expect(html).not.toMatch(/<[^>]+\sstyle=/i);
    expect(html).not.toMatch(/(src|href)=["']?https?:/);
  });
});
