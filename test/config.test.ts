import { env, SELF } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig, REQUIRED_SECRETS, type RequiredSecret, SETTINGS, secretValue } from '../src/config';
import wranglerToml from '../wrangler.toml?raw';
import { withKey } from './support/apps';
import { requestRow, seedRequest } from './support/fixtures';
import { fetchWithEnv } from './support/worker';

const withVars = (vars: Record<string, string>) => ({ ...env, ...vars }) as Env;

describe('configuration', () => {
  it('parses the defaults', () => {
    const config = loadConfig(env);
    expect(config).toMatchObject({
      otp: { length: 6, ttlSeconds: 300, maxVerifyAttempts: 5 },
      limits: {
        phone: [
          { limit: 1, windowSeconds: 60 },
          { limit: 3, windowSeconds: 600 },
          { limit: 5, windowSeconds: 3600 },
          { limit: 10, windowSeconds: 86400 },
        ],
        phoneCooldown: { scheduleSeconds: [30, 60, 120, 300], resetSeconds: 3600 },
        globalShards: 16,
        budgetLeaseUnits: 16,
        budgetLeaseSeconds: 10,
      },
      destinations: { allowedCountries: null, blockedCountries: [], allowedNumberTypes: [] },
      provider: { mode: 'sandbox', ratePerSecond: 20, baseUrl: 'https://api.startmessaging.com' },
    });
  });

  it('names every bad var in one error', () => {
    const attempt = () => loadConfig(withVars({ OTP_LENGTH: '12', PHONE_LIMITS: 'lots', SM_BASE_URL: 'ftp://x' }));
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const problems = (error as ConfigError).problems.join('\n');
      expect(problems).toContain('OTP_LENGTH must be an integer from 4 to 8, got "12"');
      expect(problems).toContain('PHONE_LIMITS must look like "1/60,5/3600"');
      expect(problems).toContain('SM_BASE_URL');
    }
  });

  it('parses the operations vars, with their ranges', () => {
    expect(loadConfig(env)).toMatchObject({
      deliveryChecks: { baseSeconds: 30, maxChecks: 6 },
      resend: { dailyCapPerPhone: 10, sendsPerSecond: 10 },
      retention: { days: 30 },
    });
    expect(loadConfig(withVars({ DELIVERY_CHECK_MAX: '0' })).deliveryChecks.maxChecks).toBe(0);
    expect(() => loadConfig(withVars({ RESEND_SENDS_PER_SECOND: '500' }))).toThrow(/RESEND_SENDS_PER_SECOND must be an integer from 1 to 100/);
    expect(() => loadConfig(withVars({ DELIVERY_CHECK_BASE_SECONDS: 'soon' }))).toThrow(/DELIVERY_CHECK_BASE_SECONDS/);
  });

  it('no secret has a built-in value, in any mode: unset is unset', () => {
    const names = Object.keys(REQUIRED_SECRETS) as RequiredSecret[];
    expect(names.sort()).toEqual(['ADMIN_TOKEN', 'OTP_SECRET', 'SESSION_SECRET', 'TOKEN_SIGNING_KEY', 'WEBHOOK_SECRET_KEY']);
    for (const mode of ['sandbox', 'startmessaging']) {
      const unset = loadConfig(
        withVars({ PROVIDER_MODE: mode, OTP_SECRET: '', SESSION_SECRET: '', ADMIN_TOKEN: '', TOKEN_SIGNING_KEY: '', WEBHOOK_SECRET_KEY: '' }),
      );
      for (const name of names) expect(secretValue(unset, name), `${mode} ${name}`).toBeUndefined();
    }
    const set = loadConfig(withVars({ OTP_SECRET: 'o', SESSION_SECRET: 's', ADMIN_TOKEN: 'a' }));
    expect([secretValue(set, 'OTP_SECRET'), secretValue(set, 'SESSION_SECRET'), secretValue(set, 'ADMIN_TOKEN')]).toEqual(['o', 's', 'a']);
  });

  it('refuses sandbox mode in production', () => {
    expect(() => loadConfig(withVars({ ENVIRONMENT: 'production', PROVIDER_MODE: 'sandbox' }))).toThrow(/refused in the production/);
    expect(loadConfig(withVars({ ENVIRONMENT: 'production', PROVIDER_MODE: 'startmessaging' })).provider.mode).toBe('startmessaging');
  });

  it('strips a trailing slash from SM_BASE_URL', () => {
    expect(loadConfig(withVars({ SM_BASE_URL: 'http://127.0.0.1:9000/' })).provider.baseUrl).toBe('http://127.0.0.1:9000');
  });

  it('a misconfigured deployment answers 500 configuration_error and logs what is wrong', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const response = await fetchWithEnv(new Request('https://otp.test/healthz'), withVars({ OTP_TTL_SECONDS: 'soon' }));
    expect(response.status).toBe(500);
    const body = await response.json<{ error: { code: string; message: string } }>();
    expect(body.error.code).toBe('configuration_error');
    expect(body.error.message).not.toContain('OTP_TTL_SECONDS');
    expect(errors.mock.calls.flat().join('\n')).toContain('OTP_TTL_SECONDS');
    errors.mockRestore();
  });

  it.each([
    ['SESSION_SECRET', { OTP_SECRET: 'an-otp-secret' }],
    ['OTP_SECRET', { SESSION_SECRET: 'a-session-secret' }],
  ])('verify without %s answers 500 configuration_error naming it, logs it and consumes no attempt', async (missing, secrets) => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const { id } = await seedRequest();
    const misconfigured = withVars({ PROVIDER_MODE: 'startmessaging', SM_API_KEY: 'k', OTP_SECRET: '', SESSION_SECRET: '', ...secrets });
    const verify = (headers: Record<string, string>) =>
      fetchWithEnv(new Request(`https://otp.test/v1/otp/${id}/verify`, { method: 'POST', headers, body: '{"code":"123456"}' }), misconfigured);
    // The caller's key is checked first: without one, nothing about the deployment is told.
    const anonymous = await verify({ 'Content-Type': 'application/json' });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).not.toContain(missing);
    const response = await verify(withKey({ 'Content-Type': 'application/json' }));
    expect(response.status).toBe(500);
    const body = await response.json<{ error: { code: string; message: string; missingSecret: string } }>();
    expect(body.error).toMatchObject({ code: 'configuration_error', missingSecret: missing });
    expect(body.error.message).toContain(`${missing} is not set`);
    expect(errors.mock.calls.flat().join('\n')).toContain(missing);
    expect((await requestRow(id)).verify_attempts).toBe(0);
    errors.mockRestore();
  });

  it('the sandbox listing does not exist outside sandbox mode', async () => {
    const response = await fetchWithEnv(new Request('https://otp.test/v1/sandbox/messages'), withVars({ PROVIDER_MODE: 'startmessaging' }));
    expect(response.status).toBe(404);
    expect((await SELF.fetch('https://otp.test/v1/sandbox/messages')).status).toBe(200);
  });
});

/** The `NAME = "value"` lines of one table of wrangler.toml. */
function tomlTable(name: string): Record<string, string> {
  const start = wranglerToml.indexOf(`\n[${name}]\n`);
  expect(start, `[${name}] in wrangler.toml`).toBeGreaterThan(-1);
  const body = wranglerToml.slice(start + name.length + 4).split(/\n\[/)[0]!;
  return Object.fromEntries([...body.matchAll(/^([A-Z0-9_]+) = "(.*)"$/gm)].map((match) => [match[1]!, match[2]!]));
}

const requiredSecretsOf = (table: string) =>
  JSON.parse(new RegExp(`^\\[${table.replaceAll('.', '\\.')}\\]\\s*\\nrequired = (\\[[^\\]]*\\])`, 'm').exec(wranglerToml)?.[1] ?? '[]') as string[];

describe('each setting is declared once, in src/config.ts', () => {
  const byName = new Map(SETTINGS.map((entry) => [entry.info.env, entry]));

  it('an unset var and its default, written out, parse to the same value', () => {
    const defaults = Object.fromEntries(SETTINGS.filter(({ info }) => !info.secret).map(({ info }) => [info.env, info.default!]));
    const fromDefaults = loadConfig({ ...defaults, ENVIRONMENT: 'test' } as unknown as Env);
    const unset = loadConfig({ ENVIRONMENT: 'test' } as unknown as Env);
    expect(unset).toEqual(fromDefaults);
    expect(unset.limits.unknownIp).toEqual([
      { limit: 5, windowSeconds: 60 },
      { limit: 20, windowSeconds: 3600 },
    ]);
  });

  it('wrangler.toml sets only known vars, and only where they differ from the defaults', () => {
    const local = tomlTable('vars');
    const production = tomlTable('env.production.vars');
    // ENVIRONMENT is stated locally although it is the default: it is what keeps that Worker on localhost.
    expect(local).toEqual({ ENVIRONMENT: 'development', TURNSTILE_MODE: 'stub', PROVIDER_ORDER: 'sandbox,sandbox-backup' });
    expect(loadConfig({ ...env, ...local } as unknown as Env).routing.order).toEqual(['sandbox', 'sandbox-backup']);
    for (const [name, value] of Object.entries(production)) {
      expect(byName.get(name)?.info.default, name).toBeDefined();
      expect(value, `${name} repeats its default`).not.toBe(byName.get(name)!.info.default);
    }
    const config = loadConfig({ ...production, ...TEST_SECRETS_FOR_PRODUCTION } as unknown as Env);
    expect(config).toMatchObject({
      environment: 'production',
      provider: { mode: 'startmessaging' },
      destinations: { allowedCountries: ['IN'] },
      turnstile: { mode: 'siteverify' },
    });
  });

  it('the required secrets wrangler.toml lists are the ones src/config.ts declares required', () => {
    expect(requiredSecretsOf('secrets').sort()).toEqual(Object.keys(REQUIRED_SECRETS).sort());
    expect(requiredSecretsOf('env.production.secrets').sort()).toEqual([...Object.keys(REQUIRED_SECRETS), 'SM_API_KEY'].sort());
    for (const name of Object.keys(REQUIRED_SECRETS)) expect(byName.get(name)?.info.secret, name).toBeDefined();
  });

  it('a bad choice names the var and the accepted values', () => {
    expect(() => loadConfig(withVars({ ENVIRONMENT: 'staging' }))).toThrow('ENVIRONMENT must be one of development, test, production, got "staging"');
    expect(() => loadConfig(withVars({ PROVIDER_MODE: '' }))).toThrow(/PROVIDER_MODE must be one of startmessaging, sandbox/);
  });
});

const TEST_SECRETS_FOR_PRODUCTION = {
  SM_API_KEY: 'k',
  OTP_SECRET: 'o',
  SESSION_SECRET: 's',
  ADMIN_TOKEN: 'a',
  TOKEN_SIGNING_KEY: 't',
  WEBHOOK_SECRET_KEY: 'w',
};
