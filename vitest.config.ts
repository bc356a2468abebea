import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { TEST_SECRETS } from './test/support/secrets.ts';

// This file runs in Node; the project's type set is the Workers runtime's, which has no `process`.
declare const process: { env: Record<string, string | undefined> };

export default defineConfig(async () => {
  // wrangler.toml requires these secrets; a test run has no .dev.vars, so give them where wrangler
  // looks next, or it warns once per test file. The bindings below are what the tests run with.
  for (const [name, value] of Object.entries(TEST_SECRETS)) process.env[name] ??= value;
  const migrations = await readD1Migrations('migrations');
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: './wrangler.toml' },
        miniflare: {
          // The secrets are given here, never read from a developer's .dev.vars.
          // SELF.fetch sends no CF-Connecting-IP (Cloudflare always does), so every test call without
          // one would share the strict bucket of unreadable addresses; the tests of that bucket set it back.
          // Turnstile runs as in production (siteverify), against an origin the tests intercept.
          // An empty database for the migration tests, which apply the migrations step by step.
          d1Databases: ['MIGRATION_DB'],
          bindings: {
            ENVIRONMENT: 'test',
            TEST_MIGRATIONS: migrations,
            UNKNOWN_IP_LIMITS: '100000/60',
            TURNSTILE_MODE: 'siteverify',
            TURNSTILE_VERIFY_URL: 'https://turnstile.test/turnstile/v0/siteverify',
            // One provider unless a test asks for more (wrangler.toml's development order has two).
            PROVIDER_ORDER: '',
            ...TEST_SECRETS,
          },
        },
      }),
    ],
    test: {
      include: ['test/**/*.test.ts'],
      setupFiles: ['./test/support/setup.ts'],
      // The Worker logs a JSON line per event; show them only for tests that fail.
      silent: 'passed-only' as const,
      // Generous: a 2-core machine running other work makes the 100-request concurrency tests slow.
      testTimeout: 30_000,
      reporters: process.env.CI ? ['default', ['json', { outputFile: '.test-results.json' }] as ['json', object]] : ['default'],
    },
  };
});
