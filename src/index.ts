import { createApp } from './api/app';
import { handleQueue } from './consumer/queue-handler';
import { handleScheduled } from './cron/scheduled';

export { ClientIpGuard } from './limiter/client-ip-guard';
export { PrefixGuard } from './limiter/prefix-guard';
export { RateLimiter } from './limiter/rate-limiter';
export { ScopeLedger } from './limiter/scope-ledger';
export { ProviderPacer } from './pacing/provider-pacer';
export { ProviderHealth } from './routing/provider-health';

const app = createApp();

export default {
  fetch: app.fetch,
  queue: (batch, env, _ctx) => handleQueue(batch, env),
  scheduled: (controller, env, ctx) => handleScheduled(controller, env, ctx),
} satisfies ExportedHandler<Env, unknown>;
