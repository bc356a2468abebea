import { applyD1Migrations, env } from 'cloudflare:test';
import { afterEach, beforeEach } from 'vitest';
import { seedTestApp } from './apps';
import { installOutboundGuard } from './outbound';

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
await seedTestApp();

const guard = installOutboundGuard();
beforeEach(() => guard.reset());
afterEach(() => guard.assertNoUnexpectedCalls());
