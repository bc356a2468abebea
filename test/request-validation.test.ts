import { env, SELF } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { createApp } from '../src/api/app';
import { ADMIN_TOKEN, adminFetch } from './support/admin';
import { withKey } from './support/apps';
import { uniquePhone } from './support/fixtures';
import { cspDirectives, expectOwnFilesOnly } from './support/page-files';
import { recordingQueue, withQueue } from './support/recording-queue';
import { fetchWithEnv } from './support/worker';

const url = 'https://otp.test/v1/otp';
const jsonHeaders = withKey({ 'Content-Type': 'application/json' });

const badRequests: Array<{ name: string; init: RequestInit; status: number; code: string }> = [
  {
    name: 'no API key',
    init: { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"phoneNumber":"+919876543210"}' },
    status: 401,
    code: 'unauthorized',
  },
  { name: 'no body', init: { method: 'POST', headers: jsonHeaders }, status: 400, code: 'invalid_json' },
  { name: 'malformed JSON', init: { method: 'POST', headers: jsonHeaders, body: '{"phoneNumber":' }, status: 400, code: 'invalid_json' },
  { name: 'JSON array', init: { method: 'POST', headers: jsonHeaders, body: '[]' }, status: 400, code: 'invalid_request' },
  { name: 'missing phone', init: { method: 'POST', headers: jsonHeaders, body: '{}' }, status: 400, code: 'invalid_phone_number' },
  { name: 'phone as number', init: { method: 'POST', headers: jsonHeaders, body: '{"phoneNumber":919876543210}' }, status: 400, code: 'invalid_phone_number' },
  { name: 'no plus sign', init: { method: 'POST', headers: jsonHeaders, body: '{"phoneNumber":"919876543210"}' }, status: 400, code: 'invalid_phone_number' },
  { name: 'spaces', init: { method: 'POST', headers: jsonHeaders, body: '{"phoneNumber":"+91 98765 43210"}' }, status: 400, code: 'invalid_phone_number' },
  { name: 'country code 0', init: { method: 'POST', headers: jsonHeaders, body: '{"phoneNumber":"+0123456789"}' }, status: 400, code: 'invalid_phone_number' },
  { name: 'too long', init: { method: 'POST', headers: jsonHeaders, body: '{"phoneNumber":"+1234567890123456"}' }, status: 400, code: 'invalid_phone_number' },
  { name: 'too short', init: { method: 'POST', headers: jsonHeaders, body: '{"phoneNumber":"+12345"}' }, status: 400, code: 'invalid_phone_number' },
  {
    name: 'unknown field',
    init: { method: 'POST', headers: jsonHeaders, body: '{"phoneNumber":"+919876543210","otp":"1"}' },
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'text body',
    init: { method: 'POST', headers: withKey({ 'Content-Type': 'text/plain' }), body: 'hello' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'form body',
    init: { method: 'POST', headers: withKey({ 'Content-Type': 'application/x-www-form-urlencoded' }), body: 'phoneNumber=%2B919876543210' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'body over 4 KiB',
    init: { method: 'POST', headers: jsonHeaders, body: JSON.stringify({ phoneNumber: '+919876543210', pad: 'x'.repeat(5000) }) },
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'short Idempotency-Key',
    init: { method: 'POST', headers: { ...jsonHeaders, 'Idempotency-Key': 'abc' }, body: '{"phoneNumber":"+919876543210"}' },
    status: 400,
    code: 'invalid_idempotency_key',
  },
  {
    name: 'Idempotency-Key with spaces',
    init: { method: 'POST', headers: { ...jsonHeaders, 'Idempotency-Key': 'has spaces in it' }, body: '{"phoneNumber":"+919876543210"}' },
    status: 400,
    code: 'invalid_idempotency_key',
  },
];

describe('POST /v1/otp refuses bad input', () => {
  it.each(badRequests)('$name → $status $code', async ({ init, status, code }) => {
    const response = await SELF.fetch(url, init);
    expect(response.status).toBe(status);
    const body = await response.json<{ error: { code: string; message: string; requestId: string } }>();
    expect(body.error.code).toBe(code);
    expect(body.error.message).toEqual(expect.any(String));
    expect(body.error.requestId).toBe(response.headers.get('X-Request-Id'));
    expect(JSON.stringify(body)).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it('a refused request reaches neither D1 nor the queue', async () => {
    const queue = recordingQueue();
    const countRows = async () => (await env.DB.prepare('SELECT COUNT(*) AS n FROM otp_requests').first<{ n: number }>())!.n;
    const before = await countRows();
    for (const { init, status } of badRequests) {
      const response = await fetchWithEnv(new Request(url, init), withQueue(queue.binding));
      expect(response.status).toBe(status);
    }
    expect(await countRows()).toBe(before);
    expect(queue.messages).toEqual([]);

    // The same queue records what an accepted request sends: the check above can see a message.
    const accepted = await fetchWithEnv(
      new Request(url, { method: 'POST', headers: jsonHeaders, body: JSON.stringify({ phoneNumber: uniquePhone() }) }),
      withQueue(queue.binding),
    );
    expect(accepted.status).toBe(202);
    expect(queue.messages).toHaveLength(1);
  });
});

describe('other routes', () => {
  it('unknown paths answer 404 in the error shape', async () => {
    const response = await SELF.fetch('https://otp.test/v1/nothing-here');
    expect(response.status).toBe(404);
    expect((await response.json<{ error: { code: string } }>()).error.code).toBe('not_found');
  });

  it('a malformed request id is a 400, an unknown one a 404', async () => {
    const bad = await SELF.fetch('https://otp.test/v1/otp/not-an-id', { headers: withKey() });
    expect(bad.status).toBe(400);
    const unknown = await SELF.fetch('https://otp.test/v1/otp/otp_AAAAAAAAAAAAAAAAAAAAAA', { headers: withKey() });
    expect(unknown.status).toBe(404);
    expect((await unknown.json<{ error: { code: string } }>()).error.code).toBe('not_found');
  });

  it('an unexpected exception in a handler is 500 internal_error in the error shape, logged, with no stack trace', async () => {
    // D1 failing with something that is not a D1 fault: a bug, not an outage. Only the handler's
    // read of the request fails; the caller's key is still looked up.
    const brokenDb = new Proxy(env.DB, {
      get(target, property) {
        if (property === 'prepare') {
          return (sql: string) => {
            if (!sql.includes('FROM otp_requests')) return target.prepare(sql);
            throw new TypeError('cannot read properties of undefined (reading "secretColumn")');
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const response = await fetchWithEnv(new Request('https://otp.test/v1/otp/otp_AAAAAAAAAAAAAAAAAAAAAA', { headers: withKey() }), {
      ...env,
      DB: brokenDb,
    } as Env);
    const logged = errors.mock.calls.map((call) => call.join(' '));
    errors.mockRestore();

    expect(response.status).toBe(500);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      error: { code: 'internal_error', message: expect.any(String), requestId: response.headers.get('X-Request-Id') },
    });
    expect(text).not.toMatch(/\bat [\w.<>]+ \(|\.ts:\d+|TypeError|secretColumn/);
    expect(logged.some((line) => line.includes('"event":"api.unhandled_error"') && line.includes(response.headers.get('X-Request-Id')!))).toBe(true);
  });

  it('serves liveness, the OpenAPI document and its docs page', async () => {
    const health = await SELF.fetch('https://otp.test/healthz');
    expect(await health.json()).toEqual({ ok: true, providerMode: 'sandbox' });
    const spec = await (await SELF.fetch('https://otp.test/openapi.json')).json<{ openapi: string; paths: Record<string, unknown> }>();
    expect(spec.openapi).toBe('3.1.0');
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/otp', '/v1/otp/{requestId}', '/healthz']));
    const docs = await SELF.fetch('https://otp.test/docs');
    expect(docs.headers.get('Content-Type')).toContain('text/html');
    expect(await docs.text()).toContain('/openapi.json');
  });

  it('sends security headers on every answer', async () => {
    for (const path of ['/healthz', '/v1/otp/not-an-id', '/nope']) {
      const response = await SELF.fetch(`https://otp.test${path}`);
      expect(response.headers.get('X-Content-Type-Options')).toBe('nosniff');
      expect(response.headers.get('Strict-Transport-Security')).toContain('max-age=');
      expect(response.headers.get('X-Frame-Options')).toBe('SAMEORIGIN');
    }
  });
});

/** Every endpoint the app registers (middleware, registered for every method as ALL, left out). */
function registeredRoutes(): Map<string, Set<string>> {
  const byPath = new Map<string, Set<string>>();
  for (const route of createApp().routes) {
    if (route.method === 'ALL') continue;
    byPath.set(route.path, (byPath.get(route.path) ?? new Set()).add(route.method));
  }
  return byPath;
}

/** A concrete path for a route pattern: each `:param` filled in. */
const concrete = (path: string) => path.replace(/:\w+/g, 'x1');

describe('a wrong method on a known path', () => {
  it('answers 405 method_not_allowed with Allow listing that path’s methods, for every route the app registers', async () => {
    const routes = registeredRoutes();
    expect(routes.size).toBeGreaterThanOrEqual(15);
    for (const [path, methods] of routes) {
      const wrong = ['PUT', 'PATCH', 'DELETE', 'POST', 'GET'].find((method) => !methods.has(method))!;
      const response = await adminFetch(concrete(path), { method: wrong });
      const label = `${wrong} ${path}`;
      expect(response.status, label).toBe(405);
      const allowed = [...methods, ...(methods.has('GET') ? ['HEAD'] : [])].sort();
      expect(response.headers.get('Allow'), label).toBe(allowed.join(', '));
      const body = await response.json<{ error: { code: string; message: string } }>();
      expect(body.error.code, label).toBe('method_not_allowed');
    }
  });

  it('names the methods in examples a client meets', async () => {
    const cases: Array<[string, string, string]> = [
      ['PUT', '/v1/otp', 'POST'],
      ['GET', '/v1/otp', 'POST'],
      ['DELETE', '/v1/otp/otp_AAAAAAAAAAAAAAAAAAAAAA', 'GET, HEAD'],
      ['GET', '/v1/otp/otp_AAAAAAAAAAAAAAAAAAAAAA/verify', 'POST'],
      ['GET', '/v1/session/logout', 'POST'],
      ['POST', '/healthz', 'GET, HEAD'],
      ['PATCH', '/v1/admin/prefix-blocks', 'GET, HEAD, POST'],
    ];
    for (const [method, path, allow] of cases) {
      const response = await adminFetch(path, { method });
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.headers.get('Allow')).toBe(allow);
    }
  });

  it('an unknown path is still 404, and an admin path without the token still 401', async () => {
    const unknown = await SELF.fetch('https://otp.test/v1/otp/otp_AAAAAAAAAAAAAAAAAAAAAA/nothing', { method: 'PUT' });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('Allow')).toBeNull();
    const admin = await SELF.fetch('https://otp.test/v1/admin/prefix-blocks', { method: 'PATCH' });
    expect(admin.status).toBe(401);
    expect(admin.headers.get('Allow')).toBeNull();
  });
});

describe('a query parameter given more than once', () => {
  it('is 400 invalid_request naming it, on every route the app registers', async () => {
    for (const [path, methods] of registeredRoutes()) {
      for (const method of methods) {
        const init: RequestInit = method === 'POST' ? { method, body: '{}' } : { method };
        const response = await adminFetch(`${concrete(path)}?format=json&limit=1&limit=2`, init);
        const label = `${method} ${path}`;
        expect(response.status, label).toBe(400);
        const { error } = await response.json<{ error: { code: string; message: string; parameter: string } }>();
        expect(error.code, label).toBe('invalid_request');
        expect(error.message, label).toBe('limit: given more than once; give each query parameter at most once');
        expect(error.parameter).toBe('limit');
      }
    }
  });

  it('on the admin listings, the sandbox listing and a filter, instead of a confusing validation message', async () => {
    for (const query of [
      '/v1/admin/requests?limit=1&limit=2',
      '/v1/admin/attempts?outcome=sent&outcome=failed',
      '/v1/admin/stats?since=0&since=1',
      '/v1/sandbox/messages?limit=1&limit=1',
    ]) {
      const response = await adminFetch(query);
      expect(response.status, query).toBe(400);
      const { error } = await response.json<{ error: { code: string; message: string } }>();
      expect(error.code).toBe('invalid_request');
      expect(error.message).toContain('given more than once');
      expect(error.message).not.toContain('NaN');
    }
    // Once each is fine.
    expect((await adminFetch('/v1/admin/requests?limit=1&format=json')).status).toBe(200);
  });

  it('admin routes check the token first', async () => {
    const response = await SELF.fetch('https://otp.test/v1/admin/requests?limit=1&limit=2', { headers: { Authorization: `Bearer ${ADMIN_TOKEN}x` } });
    expect(response.status).toBe(401);
  });
});

describe('the docs page', () => {
  it('has a strict content security policy that still lets its own script and style run', async () => {
    const response = await SELF.fetch('https://otp.test/docs');
    expect(response.status).toBe(200);
    const directives = cspDirectives(response.headers.get('Content-Security-Policy'));
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('style-src')).toEqual(["'self'"]);
    // It fetches the spec and the requests it tries from this origin, nothing else; Swagger UI's icons are data: images.
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    expect(directives.get('img-src')).toEqual(["'self'", 'data:']);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(directives.get('base-uri')).toEqual(["'none'"]);
    expect(directives.get('form-action')).toEqual(["'none'"]);

    const html = await response.text();
    // Its scripts and style sheets (its own and Swagger UI's, copied from swagger-ui-dist) are files of this origin, nothing inline.
    const files = await expectOwnFilesOnly(html);
    expect([...files.keys()].sort()).toEqual([
      '/static/docs.css',
      '/static/docs.js',
      '/static/vendor/swagger-ui/swagger-ui-bundle.js',
      '/static/vendor/swagger-ui/swagger-ui.css',
    ]);
    expect(files.get('/static/vendor/swagger-ui/swagger-ui-bundle.js')).toContain('SwaggerUIBundle');
    // Nothing the policy would block: no inline handlers, no style attributes, nothing from elsewhere.
    expect(html).not.toMatch(/<[^>]+\son\w+=/i);
    expect(html).not.toMatch(/<[^>]+\sstyle=/i);
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    expect(files.get('/static/docs.js')).not.toMatch(/\.innerHTML|\.style\.|setAttribute\(['"](on|style)/);
  });
});

describe('the sandbox listing', () => {
  it('documents its cap on limit in the OpenAPI document, and refuses more with a 400', async () => {
    const spec = await (await SELF.fetch('https://otp.test/openapi.json')).json<{
      paths: Record<string, { get: { description: string; parameters: Array<{ name: string; description?: string; schema: { maximum?: number } }> } }>;
    }>();
    const listing = spec.paths['/v1/sandbox/messages']!.get;
    const limit = listing.parameters.find((parameter) => parameter.name === 'limit')!;
    expect(limit.schema.maximum).toBe(100);
    expect(limit.description).toContain('at most 100');
    expect(listing.description).toContain('at most 100');
    const over = await SELF.fetch('https://otp.test/v1/sandbox/messages?limit=101');
    expect(over.status).toBe(400);
    expect((await over.json<{ error: { code: string } }>()).error.code).toBe('invalid_request');
    expect((await SELF.fetch('https://otp.test/v1/sandbox/messages?limit=100')).status).toBe(200);
  });
});
