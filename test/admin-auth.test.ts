import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { SANDBOX_ADMIN_TOKEN } from '../src/config';
import { fetchWithEnv } from './support/worker';

const call = (headers: Record<string, string>, vars: Record<string, string> = { ADMIN_TOKEN: 'correct-token-123' }) =>
  fetchWithEnv(new Request('https://otp.test/v1/admin/requests', { headers }), { ...env, ...vars } as Env);
const startMessaging = { PROVIDER_MODE: 'startmessaging', ADMIN_TOKEN: '' };

describe('admin bearer token', () => {
  it.each([
    ['no Authorization header', {}],
    ['a wrong token', { Authorization: 'Bearer wrong-token' }],
    ['a token prefix', { Authorization: 'Bearer correct-token' }],
    ['another scheme', { Authorization: 'Basic Y29ycmVjdC10b2tlbi0xMjM=' }],
    ['the sandbox development token while ADMIN_TOKEN is set', { Authorization: `Bearer ${SANDBOX_ADMIN_TOKEN}` }],
  ])('%s is 401 with WWW-Authenticate', async (_name, headers) => {
    const response = await call(headers);
    expect(response.status).toBe(401);
    expect(response.headers.get('WWW-Authenticate')).toBe('Bearer');
    expect((await response.json<{ error: { code: string } }>()).error.code).toBe('unauthorized');
  });

  it('outside sandbox mode with no ADMIN_TOKEN configured, every token is refused, the development one too', async () => {
    for (const authorization of ['Bearer ', `Bearer ${SANDBOX_ADMIN_TOKEN}`, 'Bearer anything']) {
      const response = await call({ Authorization: authorization }, startMessaging);
      expect(response.status).toBe(401);
    }
  });

  it('the right token passes the guard', async () => {
    const response = await call({ Authorization: 'Bearer correct-token-123' });
    expect(response.status).toBe(200);
  });

  it('in sandbox mode with no ADMIN_TOKEN, the documented development token passes and nothing else does', async () => {
    expect((await call({ Authorization: `Bearer ${SANDBOX_ADMIN_TOKEN}` }, { ADMIN_TOKEN: '' })).status).toBe(200);
    expect((await call({ Authorization: 'Bearer ' }, { ADMIN_TOKEN: '' })).status).toBe(401);
    expect((await call({ Authorization: 'Bearer sandbox-admin' }, { ADMIN_TOKEN: '' })).status).toBe(401);
  });
});
