import { describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../src/api/app';
import { ADMIN_MAX_BODY_BYTES } from '../src/api/routes/admin';
import { deriveCode } from '../src/codes';
import { TEST_APP } from './support/apps';
import { uniquePhone } from './support/fixtures';
import { type DocOperation, envWithAdminToken, expectDocumented, type OpenApiDocument, operations, servedDocument } from './support/openapi';
import { recordingQueue, withQueue } from './support/recording-queue';
import { TEST_SECRETS } from './support/secrets';
import { fetchWithEnv } from './support/worker';

/**
 * The document against the Worker's answers: calls that reach each route's middleware and
 * refusals, and the main flows, each answer checked to be declared (status, error code, headers).
 */

const PATH_VALUES: Record<string, string> = {
  requestId: 'otp_AAAAAAAAAAAAAAAAAAAAAA',
  resendId: 'rsd_AAAAAAAAAAAAAAAAAAAAAA',
  prefix: '+99999',
  phoneNumber: '%2B919999999999',
  appId: 'app_doesnotexist',
  keyId: 'key_doesnotexist',
  file: 'docs.js',
};

const concrete = (path: string) => path.replace(/\{(\w+)\}/g, (_, name: string) => PATH_VALUES[name] ?? name);

/** The credentials an operation's first security requirement names (none for a public one). */
function credentials(operation: DocOperation): Record<string, string> {
  const scheme = Object.keys(operation.security?.[0] ?? {})[0];
  if (scheme === 'adminBearer') return { Authorization: `Bearer ${TEST_SECRETS.ADMIN_TOKEN}` };
  if (scheme === 'secretKey') return { Authorization: `Bearer ${TEST_APP.secretKey}` };
  return {};
}

// Nothing these calls queue is delivered: a send that got through stays recorded, unsent.
const testEnv = withQueue(recordingQueue().binding, envWithAdminToken);

async function call(method: string, path: string, init: { headers?: Record<string, string>; body?: string; query?: string } = {}) {
  return fetchWithEnv(new Request(`https://otp.test${path}${init.query ?? ''}`, { method, headers: init.headers, body: init.body }), testEnv);
}

async function probe(document: OpenApiDocument, method: string, path: string, init: Parameters<typeof call>[2] = {}) {
  const response = await call(method, concrete(path), init);
  await expectDocumented(document, method, path, response);
  return response;
}

const takesBody = (method: string) => ['POST', 'PATCH', 'PUT'].includes(method);

describe('every operation answers only as the OpenAPI document declares', () => {
  it('without credentials, with a repeated query parameter, with a body of another type, too large or not JSON, and empty', async () => {
    const document = await servedDocument();
    for (const { method, path, operation } of operations(document)) {
      const keyed = credentials(operation);
      await probe(document, method, path);
      await probe(document, method, path, { headers: keyed, query: '?probe=1&probe=2' });
      if (!takesBody(method)) {
        await probe(document, method, path, { headers: keyed });
        continue;
      }
      const json = { ...keyed, 'Content-Type': 'application/json' };
      const limit = path.startsWith('/v1/admin/') ? ADMIN_MAX_BODY_BYTES : MAX_BODY_BYTES;
      await probe(document, method, path, { headers: { ...keyed, 'Content-Type': 'text/plain' }, body: 'x' });
      await probe(document, method, path, { headers: json, body: JSON.stringify({ pad: 'x'.repeat(limit) }) });
      await probe(document, method, path, { headers: json, body: '{"not json' });
      await probe(document, method, path, { headers: json, body: '{}' });
    }
  });

  it('through a code’s life: sent, replayed, refused, read, checked with a session, logged out', async () => {
    const document = await servedDocument();
    const phoneNumber = uniquePhone();
    const json = { Authorization: `Bearer ${TEST_APP.secretKey}`, 'Content-Type': 'application/json' };
    const send = (headers: Record<string, string>) =>
      probe(document, 'POST', '/v1/otp', { headers: { ...json, ...headers }, body: JSON.stringify({ phoneNumber }) });

    const created = await send({ 'Idempotency-Key': `conformance-${phoneNumber}` });
    expect(created.status).toBe(202);
    expect(created.headers.get('Location')).toBeTruthy();
    const replayed = await send({ 'Idempotency-Key': `conformance-${phoneNumber}` });
    expect(replayed.headers.get('Idempotent-Replayed')).toBe('true');
    const limited = await send({});
    expect(limited.status).toBe(429);
    expect(limited.headers.get('RateLimit-Policy')).toBeTruthy();

    const { requestId } = await created.json<{ requestId: string }>();
    const onRequest = async (method: string, path: string, init: Parameters<typeof call>[2]) => {
      const response = await call(method, path.replace('{requestId}', requestId), init);
      await expectDocumented(document, method, path, response);
      return response;
    };
    expect((await onRequest('GET', '/v1/otp/{requestId}', { headers: json })).headers.get('Cache-Control')).toBe('no-store');
    const code = await deriveCode(TEST_SECRETS.OTP_SECRET, requestId, 6);
    const verified = await onRequest('POST', '/v1/otp/{requestId}/verify', { headers: json, body: JSON.stringify({ code }) });
    expect(verified.status).toBe(200);
    const cookie = verified.headers.get('Set-Cookie')!.split(';')[0]!;
    expect((await onRequest('POST', '/v1/otp/{requestId}/verify', { headers: json, body: JSON.stringify({ code }) })).status).toBe(409);
    expect((await onRequest('GET', '/v1/session', { headers: { Cookie: cookie } })).status).toBe(200);
    const loggedOut = await onRequest('POST', '/v1/session/logout', { headers: { Cookie: cookie } });
    expect(loggedOut.headers.get('Set-Cookie')).toContain('Max-Age=0');
    expect((await onRequest('GET', '/v1/session', { headers: { Cookie: cookie } })).status).toBe(401);
  });

  it('for operators and pages: an app created, a CSV export, a resend started, the key set, the pages and their files', async () => {
    const document = await servedDocument();
    const admin = { Authorization: `Bearer ${TEST_SECRETS.ADMIN_TOKEN}`, 'Content-Type': 'application/json' };
    const created = await probe(document, 'POST', '/v1/admin/apps', { headers: admin, body: JSON.stringify({ name: 'Conformance' }) });
    expect(created.status).toBe(201);
    expect(created.headers.get('Location')).toBeTruthy();
    const csv = await probe(document, 'GET', '/v1/admin/requests', { headers: admin, query: '?format=csv&limit=1' });
    expect(csv.headers.get('Content-Disposition')).toContain('attachment');
    const resend = await probe(document, 'POST', '/v1/admin/resends', {
      headers: admin,
      body: JSON.stringify({ filter: { status: 'failed', since: '2001-01-01T00:00:00Z' } }),
    });
    expect(resend.status).toBe(202);
    expect((await probe(document, 'GET', '/.well-known/jwks.json')).headers.get('Cache-Control')).toContain('max-age');
    expect((await probe(document, 'GET', '/docs')).headers.get('Content-Security-Policy')).toBeTruthy();
    expect((await probe(document, 'GET', '/admin')).headers.get('Cache-Control')).toBe('no-store');
    const file = await probe(document, 'GET', '/static/{file}');
    const etag = file.headers.get('ETag')!;
    expect((await probe(document, 'GET', '/static/{file}', { headers: { 'If-None-Match': etag } })).status).toBe(304);
  });
});
