import type { D1Migration } from 'cloudflare:test';

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      /** An empty D1 database (vitest.config.ts) for the migration tests. */
      MIGRATION_DB: D1Database;
    }
  }
}
