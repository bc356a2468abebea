import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import gitignore from '../.gitignore?raw';
import { isLocalHost } from '../src/api/middleware/development-local-only';
import { SESSION_COOKIE, signSession } from '../src/api/session-cookie';
import { deriveCode } from '../src/codes';
import wranglerToml from '../wrangler.toml?raw';
import { withKey } from './support/apps';
import { requestRow, seedRequest, uniquePhone } from './support/fixtures';
import { deliverSendJobs } from './support/queue';
import { recordingQueue } from './support/recording-queue';
import { fetchWithEnv } from './support/worker';

/** Public values: the ones sandbox mode once fell back to, and the ones `npm run dev` writes to .dev.vars. */
const KNOWN_OTP_SECRETS = ['sandbox-only-otp-secret-not-for-production', 'local-dev-otp-secret'];
const KNOWN_SESSION_SECRETS = ['sandbox-only-session-secret-not-for-production', 'local-dev-session-secret'];

/** The local (sandbox) configuration with none of its secrets, as a deployment without them runs it. */
const withoutSecrets = (vars: Record<string, unknown> = {}) => ({ ...env, OTP_SECRET: '', SESSION_SECRET: '', ADMIN_TOKEN: '', ...vars }) as Env;

type ErrorBody = { error: { code: string; message: string; missingSecret?: string } };

async function expectMissing(response: Response, secret: string) {
  expect(response.status).toBe(500);
  const { error } = await response.json<ErrorBody>();
  expect(error).toMatchObject({ code: 'configuration_error', missingSecret: secret });
  expect(error.message).toContain(`${secret} is not set`);
}

const quietly = async <T>(work: () => Promise<T>): Promise<T> => {
  const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    return await work();
  } finally {
    errors.mockRestore();
  }
};

/** A POST as the test app, with its secret key: the key is checked before any secret is needed. */
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  new Request(`https://otp.test${path}`, { method: 'POST', headers: withKey({ 'Content-Type': 'application/json', ...headers }), body: JSON.stringify(body) });

describe('a sandbox Worker without its secrets has none to fall back on', () => {
  it('a session cookie signed with a known public secret: 500 naming SESSION_SECRET when none is set, 401 when one is', async () => {
    const now = Date.now();
    for (const known of KNOWN_SESSION_SECRETS) {
      const knownSession = {
        sessionId: 'ses_known',
        phoneNumber: '+919876543210',
        requestId: 'otp_AAAAAAAAAAAAAAAAAAAAAA',
        issuedAt: now,
        expiresAt: now + 3_600_000,
      };
      const cookie = await signSession(knownSession, known);
      const session = () => new Request('https://otp.test/v1/session', { headers: { Cookie: `${SESSION_COOKIE}=${cookie}` } });
      await quietly(async () => expectMissing(await fetchWithEnv(session(), withoutSecrets()), 'SESSION_SECRET'));
      expect((await fetchWithEnv(session(), env)).status, known).toBe(401);
    }
  });

  it('verify with the code a known OTP secret gives: 500 naming the missing secret, and no attempt is spent', async () => {
    for (const [missing, vars] of [
      ['SESSION_SECRET', { OTP_SECRET: KNOWN_OTP_SECRETS[0] }],
      ['OTP_SECRET', { SESSION_SECRET: KNOWN_SESSION_SECRETS[0] }],
    ] as const) {
      const { id } = await seedRequest();
      const code = await deriveCode(KNOWN_OTP_SECRETS[0]!, id, 6);
      await quietly(async () => expectMissing(await fetchWithEnv(post(`/v1/otp/${id}/verify`, { code }), withoutSecrets(vars)), missing));
      expect(await requestRow(id)).toMatchObject({ status: 'queued', verify_attempts: 0 });
    }
  });

  it('POST /v1/otp without OTP_SECRET: 500 naming it; nothing written, nothing queued, no limit spent', async () => {
    const queue = recordingQueue();
    const phoneNumber = uniquePhone();
    await quietly(async () => expectMissing(await fetchWithEnv(post('/v1/otp', { phoneNumber }), withoutSecrets({ SEND_QUEUE: queue.binding })), 'OTP_SECRET'));
    expect(queue.messages).toEqual([]);
    const rows = await env.DB.prepare('SELECT COUNT(*) AS n FROM otp_requests WHERE phone_number = ?').bind(phoneNumber).first<{ n: number }>();
    expect(rows!.n).toBe(0);
    // The phone's 1-a-minute limit is untouched: with the secret set, the same number is admitted at once.
    expect((await fetchWithEnv(post('/v1/otp', { phoneNumber }), { ...env, SEND_QUEUE: queue.binding } as Env)).status).toBe(202);
  });

  it('the sandbox listing without OTP_SECRET: 500 naming it, never codes derived from a known secret', async () => {
    await quietly(async () => expectMissing(await fetchWithEnv(new Request('https://otp.test/v1/sandbox/messages'), withoutSecrets()), 'OTP_SECRET'));
  });

  it('the consumer without OTP_SECRET sends nothing: the request fails with provider_misconfigured', async () => {
    const { id } = await seedRequest();
    const { ids, result } = await quietly(() => deliverSendJobs(withoutSecrets(), [id]));
    expect(result.explicitAcks).toEqual(ids);
    expect(await requestRow(id)).toMatchObject({ status: 'failed', last_error_code: 'provider_misconfigured', attempts: 0 });
    const sent = await env.DB.prepare('SELECT COUNT(*) AS n FROM sandbox_messages WHERE request_id = ?').bind(id).first<{ n: number }>();
    expect(sent!.n).toBe(0);
  });
});

describe('the development configuration answers only on localhost', () => {
  const development = { ...env, ENVIRONMENT: 'development' } as Env;

  it.each(['https://otp-dispatcher-dev.someone.workers.dev', 'https://otp.example.com', 'http://localhost.example.com', 'http://127.0.0.1.nip.io'])(
    'on %s every route answers 500 configuration_error',
    async (origin) => {
      for (const path of ['/healthz', '/admin', '/v1/sandbox/messages', '/v1/admin/stats']) {
        const response = await quietly(() => fetchWithEnv(new Request(`${origin}${path}`), development));
        expect(response.status, path).toBe(500);
        const { error } = await response.json<ErrorBody>();
        expect(error.code).toBe('configuration_error');
        expect(error.message).toContain('--env production');
      }
    },
  );

  it.each(['http://localhost:8787', 'http://127.0.0.1:8787', 'http://[::1]:8787', 'http://192.168.1.20:8787', 'http://otp.localhost:8787'])(
    'on %s it serves',
    async (origin) => {
      expect((await fetchWithEnv(new Request(`${origin}/healthz`), development)).status).toBe(200);
    },
  );

  it('the production environment serves on its hostname', async () => {
    const production = { ...env, ENVIRONMENT: 'production', PROVIDER_MODE: 'startmessaging', SM_API_KEY: 'k' } as Env;
    expect((await fetchWithEnv(new Request('https://otp.example.com/healthz'), production)).status).toBe(200);
  });

  it('isLocalHost: localhost, its subdomains and IP addresses only', () => {
    for (const host of ['localhost', 'LOCALHOST', 'app.localhost', '127.0.0.1', '10.0.0.7', '[::1]', '[fe80::1]']) expect(isLocalHost(host), host).toBe(true);
    for (const host of ['example.com', 'localhost.example.com', 'evil-localhost', '127.0.0.1.nip.io', 'otp.workers.dev', ''])
      expect(isLocalHost(host), host).toBe(false);
  });
});

describe('wrangler.toml: the top-level (local) environment cannot be deployed by accident', () => {
  const topLevel = wranglerToml.slice(0, wranglerToml.indexOf('\n[env.production]'));
  const production = wranglerToml.slice(wranglerToml.indexOf('\n[env.production]'));

  it('has a Worker name of its own, so a deploy without --env never replaces the production Worker', () => {
    const localName = /^name = "([^"]+)"/m.exec(topLevel)?.[1];
    const productionName = /^name = "([^"]+)"/m.exec(production)?.[1];
    expect(localName).toBeTruthy();
    expect(productionName).toBeTruthy();
    expect(localName).not.toBe(productionName);
  });

  it('requires the secrets, so wrangler refuses to deploy it to a Worker that lacks them', () => {
    const required = (text: string, table: string) =>
      JSON.parse(new RegExp(`^\\[${table.replace('.', '\\.')}\\]\\s*\\nrequired = (\\[[^\\]]*\\])`, 'm').exec(text)?.[1] ?? '[]') as string[];
    expect(required(topLevel, 'secrets')).toEqual(expect.arrayContaining(['OTP_SECRET', 'SESSION_SECRET', 'ADMIN_TOKEN']));
    expect(required(production, 'env.production.secrets')).toEqual(expect.arrayContaining(['SM_API_KEY', 'OTP_SECRET', 'SESSION_SECRET', 'ADMIN_TOKEN']));
  });

  it('runs as ENVIRONMENT=development, and .dev.vars, where its secrets live, is never committed', () => {
    expect(topLevel).toMatch(/^ENVIRONMENT = "development"$/m);
    expect(gitignore.split('\n')).toContain('.dev.vars');
  });
});
