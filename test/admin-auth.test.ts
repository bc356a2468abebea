import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { fetchWithEnv } from './support/worker';

/** The token sandbox mode once fell back to, and the one `npm run dev` writes to .dev.vars: public, so never valid by themselves. */
const FORMER_SANDBOX_TOKEN = 'sandbox-admin-token';
const LOCAL_DEV_TOKEN = 'local-dev-admin-token';

const call = (headers: Record<string, string>, vars: Record<string, string> = { ADMIN_TOKEN: 'correct-token-123' }) =>
  fetchWithEnv(new Request('https://otp.test/v1/admin/requests', { headers }), { ...env, ...vars } as Env);

describe('admin bearer token', () => {
  it.each([
    ['no Authorization header', {}],
    ['a wrong token', { Authorization: 'Bearer wrong-token' }],
    ['a token prefix', { Authorization: 'Bearer correct-token' }],
    ['another scheme', { Authorization: 'Basic Y29ycmVjdC10b2tlbi0xMjM=' }],
    ['the former sandbox token while ADMIN_TOKEN is set', { Authorization: `Bearer ${FORMER_SANDBOX_TOKEN}` }],
    ['the local development token while ADMIN_TOKEN is set', { Authorization: `Bearer ${LOCAL_DEV_TOKEN}` }],
  ])('%s is 401 with WWW-Authenticate', async (_name, headers) => {
    const response = await call(headers);
    expect(response.status).toBe(401);
    expect(response.headers.get('WWW-Authenticate')).toBe('Bearer');
    expect((await response.json<{ error: { code: string } }>()).error.code).toBe('unauthorized');
  });

  it.each([
    ['sandbox mode, ADMIN_TOKEN empty', { ADMIN_TOKEN: '' }],
    ['sandbox mode, ADMIN_TOKEN absent', { ADMIN_TOKEN: undefined }],
    ['startmessaging mode, ADMIN_TOKEN empty', { ADMIN_TOKEN: '', PROVIDER_MODE: 'startmessaging', SM_API_KEY: 'k' }],
  ])('%s: the admin API answers 500 configuration_error naming ADMIN_TOKEN, whatever token is presented', async (_mode, vars) => {
    for (const authorization of ['', 'Bearer ', `Bearer ${FORMER_SANDBOX_TOKEN}`, `Bearer ${LOCAL_DEV_TOKEN}`, 'Bearer anything']) {
      const response = await call({ Authorization: authorization }, vars as Record<string, string>);
      expect(response.status, authorization).toBe(500);
      const { error } = await response.json<{ error: { code: string; message: string; missingSecret: string } }>();
      expect(error).toMatchObject({ code: 'configuration_error', missingSecret: 'ADMIN_TOKEN' });
      expect(error.message).toContain('ADMIN_TOKEN is not set');
    }
  });

  it('the right token passes the guard', async () => {
    const response = await call({ Authorization: 'Bearer correct-token-123' });
    expect(response.status).toBe(200);
  });
});
