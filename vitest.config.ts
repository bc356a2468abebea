import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

// This file runs in Node; the project's type set is the Workers runtime's, which has no `process`.
declare const process: { env: Record<string, string | undefined> };

export default defineConfig(async () => {
  const migrations = await readD1Migrations('migrations');
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: './wrangler.toml' },
        miniflare: {
          // SELF.fetch sends no CF-Connecting-IP (Cloudflare always does), so every test call without
          // one would share the strict bucket of unreadable addresses; the tests of that bucket set it back.
          bindings: { ENVIRONMENT: 'test', TEST_MIGRATIONS: migrations, UNKNOWN_IP_LIMITS: '100000/60' },
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
