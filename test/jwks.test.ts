import { SELF } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { TEST_TOKEN_SIGNING_KEY, TEST_TOKEN_SIGNING_KEY_NEXT } from './support/secrets';
import { envWith, fetchWithEnv } from './support/worker';

const JWKS = 'https://otp.test/.well-known/jwks.json';
const PUBLIC_FIELDS = ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'];

type Key = Record<string, string>;
type ErrorBody = { error: { code: string; message: string; missingSecret?: string; invalidSecret?: string } };

const parsed = (jwk: string) => JSON.parse(jwk) as Key;
const publicPart = ({ kty, crv, x, y, kid }: Key) => ({ kty, crv, x, y, kid, alg: 'ES256', use: 'sig' });

/** Runs `work` with console.error captured: the Worker logs configuration errors there, one JSON object a line. */
async function logged<T>(work: () => Promise<T>): Promise<{ result: T; log: string; events: Record<string, string>[] }> {
  const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    const result = await work();
    const lines = errors.mock.calls.flat().map(String);
    return { result, log: lines.join('\n'), events: lines.map((line) => JSON.parse(line) as Record<string, string>) };
  } finally {
    errors.mockRestore();
  }
}

describe('GET /.well-known/jwks.json', () => {
  it('publishes the public part of the signing key only, cacheable for 300 s', async () => {
    const response = await SELF.fetch(JWKS);
    expect(response.status).toBe(200);
    expect(response.headers.get('Cache-Control')).toBe('public, max-age=300');
    expect(response.headers.get('Content-Type')).toMatch(/^application\/json/);
    const text = await response.text();
    const { keys } = JSON.parse(text) as { keys: Key[] };
    expect(keys).toEqual([publicPart(parsed(TEST_TOKEN_SIGNING_KEY))]);
    expect(Object.keys(keys[0]!).sort()).toEqual(PUBLIC_FIELDS);
    expect(text).not.toContain(parsed(TEST_TOKEN_SIGNING_KEY).d);
  });

  it('during a rotation: the current key first, then the previous one, neither with d', async () => {
    const rotated = envWith({ TOKEN_SIGNING_KEY: TEST_TOKEN_SIGNING_KEY_NEXT, TOKEN_SIGNING_KEY_PREVIOUS: TEST_TOKEN_SIGNING_KEY });
    const response = await fetchWithEnv(new Request(JWKS), rotated);
    const text = await response.text();
    const { keys } = JSON.parse(text) as { keys: Key[] };
    expect(keys).toEqual([publicPart(parsed(TEST_TOKEN_SIGNING_KEY_NEXT)), publicPart(parsed(TEST_TOKEN_SIGNING_KEY))]);
    for (const key of keys) expect(key).not.toHaveProperty('d');
    for (const jwk of [TEST_TOKEN_SIGNING_KEY, TEST_TOKEN_SIGNING_KEY_NEXT]) expect(text).not.toContain(parsed(jwk).d);
    // The same key set twice is listed once.
    const twice = await fetchWithEnv(new Request(JWKS), envWith({ TOKEN_SIGNING_KEY_PREVIOUS: TEST_TOKEN_SIGNING_KEY }));
    expect((await twice.json<{ keys: Key[] }>()).keys).toHaveLength(1);
  });

  it('any origin may read it (CORS *, no credentials); other routes do not get *', async () => {
    const fromApp = { Origin: 'https://app.example.com' };
    const response = await SELF.fetch(JWKS, { headers: fromApp });
    expect(response.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(response.headers.get('Access-Control-Allow-Credentials')).toBeNull();
    const preflight = await SELF.fetch(JWKS, { method: 'OPTIONS', headers: { ...fromApp, 'Access-Control-Request-Method': 'GET' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('Access-Control-Allow-Origin')).toBe('*');
    for (const path of ['/healthz', '/openapi.json', '/v1/otp/otp_AbCdEfGhIjKlMnOpQrStUv']) {
      expect((await SELF.fetch(`https://otp.test${path}`, { headers: fromApp })).headers.get('Access-Control-Allow-Origin'), path).toBeNull();
    }
  });

  it('is in the OpenAPI document', async () => {
    const spec = await (await SELF.fetch('https://otp.test/openapi.json')).json<{ paths: Record<string, unknown> }>();
    expect(spec.paths).toHaveProperty(['/.well-known/jwks.json', 'get']);
  });

  it('without TOKEN_SIGNING_KEY: 500 configuration_error naming it, like any missing secret, and not cacheable', async () => {
    const { result: response, log } = await logged(() => fetchWithEnv(new Request(JWKS), envWith({ TOKEN_SIGNING_KEY: '' })));
    expect(response.status).toBe(500);
    expect(response.headers.get('Cache-Control')).toBeNull();
    const { error } = await response.json<ErrorBody>();
    expect(error).toMatchObject({ code: 'configuration_error', missingSecret: 'TOKEN_SIGNING_KEY' });
    expect(error.message).toContain('TOKEN_SIGNING_KEY is not set');
    expect(log).toContain('config.missing_secret');
  });

  it.each([
    ['TOKEN_SIGNING_KEY', { TOKEN_SIGNING_KEY: JSON.stringify({ ...parsed(TEST_TOKEN_SIGNING_KEY), crv: 'P-384' }) }, /crv must be "P-256"/],
    ['TOKEN_SIGNING_KEY_PREVIOUS', { TOKEN_SIGNING_KEY_PREVIOUS: '{"kty":"EC"' }, /is not JSON/],
    [
      'TOKEN_SIGNING_KEY_PREVIOUS',
      { TOKEN_SIGNING_KEY_PREVIOUS: JSON.stringify({ ...parsed(TEST_TOKEN_SIGNING_KEY_NEXT), kid: parsed(TEST_TOKEN_SIGNING_KEY).kid }) },
      /has the kid of TOKEN_SIGNING_KEY .* but another key/,
    ],
  ])('a malformed %s: 500 configuration_error naming it; what is wrong goes to the log only', async (secret, vars, problem) => {
    const { result: response, log, events } = await logged(() => fetchWithEnv(new Request(JWKS), envWith(vars)));
    expect(response.status).toBe(500);
    const { error } = await response.json<ErrorBody>();
    expect(error).toMatchObject({ code: 'configuration_error', invalidSecret: secret });
    expect(error.message).toMatch(new RegExp(`^${secret} is malformed`));
    expect(error.message).not.toMatch(problem);
    expect(events.find(({ event }) => event === 'config.invalid_secret')).toMatchObject({ secret, problem: expect.stringMatching(problem) });
    for (const jwk of [TEST_TOKEN_SIGNING_KEY, TEST_TOKEN_SIGNING_KEY_NEXT]) expect(log).not.toContain(parsed(jwk).d);
  });
});
