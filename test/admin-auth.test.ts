import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { fetchWithEnv } from './support/worker';

const call = (headers: Record<string, string>, vars: Record<string, string> = { ADMIN_TOKEN: 'correct-token-123' }) =>
  fetchWithEnv(new Request('https://otp.test/v1/admin/requests', { headers }), { ...env, ...vars } as Env);

describe('admin bearer token', () => {
  it.each([
    ['no Authorization header', {}],
    ['a wrong token', { Authorization: 'Bearer wrong-token' }],
    ['a token prefix', { Authorization: 'Bearer correct-token' }],
    ['another scheme', { Authorization: 'Basic Y29ycmVjdC10b2tlbi0xMjM=' }],
  ])('%s is 401 with WWW-Authenticate', async (_name, headers) => {
    const response = await call(headers);
    expect(response.status).toBe(401);
    expect(response.headers.get('WWW-Authenticate')).toBe('Bearer');
    expect((await response.json<{ error: { code: string } }>()).error.code).toBe('unauthorized');
  });

  it('with no ADMIN_TOKEN configured, even an empty bearer is refused', async () => {
    const response = await call({ Authorization: 'Bearer ' }, {});
    expect(response.status).toBe(401);
  });

  it('the right token passes the guard', async () => {
    const response = await call({ Authorization: 'Bearer correct-token-123' });
    expect(response.status).not.toBe(401);
  });
});
