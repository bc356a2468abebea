import { SELF, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, adminFetch } from './support/admin';

const spec = async () =>
  (await (await SELF.fetch('https://otp.test/openapi.json')).json<{ paths: Record<string, Record<string, unknown>> }>()).paths;

/** Every admin operation the OpenAPI document declares, with a concrete path: new routes are covered as they are added. */
async function adminOperations(): Promise<Array<{ method: string; path: string }>> {
  const operations: Array<{ method: string; path: string }> = [];
  for (const [path, methods] of Object.entries(await spec())) {
    if (!path.startsWith('/v1/admin/')) continue;
    const concrete = path.replace('{requestId}', 'otp_AAAAAAAAAAAAAAAAAAAAAA').replace('{resendId}', 'rsd_AAAAAAAAAAAAAAAAAAAAAA').replace('{prefix}', '+99999').replace('{phoneNumber}', '%2B919999999999');
    for (const method of Object.keys(methods)) operations.push({ method: method.toUpperCase(), path: concrete });
  }
  return operations;
}

const countRows = async (table: string) => (await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table}`).first<{ n: number }>())!.n;

describe('every admin route is behind the bearer token', () => {
  it('the OpenAPI document lists the admin API, with the bearer scheme', async () => {
    const paths = await spec();
    expect(Object.keys(paths)).toEqual(
      expect.arrayContaining([
        '/v1/admin/requests',
        '/v1/admin/requests/{requestId}',
        '/v1/admin/attempts',
        '/v1/admin/stats',
        '/v1/admin/resends',
        '/v1/admin/resends/{resendId}',
        '/v1/admin/prefix-blocks',
        '/v1/admin/locked-phones',
        '/v1/admin/locked-phones/{phoneNumber}',
      ]),
    );
    expect(JSON.stringify(paths['/v1/admin/stats'])).toContain('adminBearer');
  });

  it.each([
    ['no Authorization header', undefined],
    ['a wrong token', `Bearer ${ADMIN_TOKEN}x`],
    ['the sandbox development token while ADMIN_TOKEN is set', 'Bearer sandbox-admin-token'],
  ])('with %s every admin route answers 401 and changes nothing', async (_name, authorization) => {
    const operations = await adminOperations();
    expect(operations.length).toBeGreaterThanOrEqual(8);
    const before = await Promise.all(['otp_requests', 'resend_jobs'].map(countRows));
    for (const { method, path } of operations) {
      const init: RequestInit = { method, headers: authorization ? { Authorization: authorization } : { Authorization: '' } };
      // Even a body that would otherwise be refused as 415 gets 401 first: nothing is read before the token.
      if (method === 'POST') Object.assign(init, { body: 'not json', headers: { ...init.headers, 'Content-Type': 'text/plain' } });
      const response = await adminFetch(path, init);
      expect(response.status, `${method} ${path}`).toBe(401);
      expect(response.headers.get('WWW-Authenticate')).toBe('Bearer');
      expect((await response.json<{ error: { code: string } }>()).error.code).toBe('unauthorized');
    }
    expect(await Promise.all(['otp_requests', 'resend_jobs'].map(countRows))).toEqual(before);
  });

  it('with the token, the same routes answer (200 or 201, or 404 for the made-up ids)', async () => {
    const bodies: Record<string, unknown> = {
      '/v1/admin/resends': { filter: { status: 'failed', since: '2001-01-01T00:00:00Z' }, dryRun: true },
      '/v1/admin/prefix-blocks': { prefix: '+99999', durationSeconds: 3600 },
    };
    for (const { method, path } of await adminOperations()) {
      const init: RequestInit = method === 'POST' ? { method, body: JSON.stringify(bodies[path]) } : { method };
      const response = await adminFetch(path, init);
      expect([200, 201, 404], `${method} ${path}`).toContain(response.status);
    }
  });
});

describe('the dashboard page', () => {
  it('is served to anyone (it holds no data) with a strict content security policy', async () => {
    const response = await SELF.fetch('https://otp.test/admin');
    expect(response.status).toBe(200);
    expect(response.headers.get('Content-Type')).toContain('text/html');
    const csp = response.headers.get('Content-Security-Policy')!;
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    const html = await response.text();
    expect(html).toContain(`<script nonce="${nonce}"`);
    // Every script on the page carries the nonce: nothing runs that the Worker did not put there.
    expect(html.match(/<script/g)!.length).toBe(html.match(new RegExp(`<script nonce="${nonce}"`, 'g'))!.length);
    expect(html).not.toMatch(/(src|href)=["']?https?:/);
  });
});
