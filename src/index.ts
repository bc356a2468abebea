import { createApp } from './api/app';
import { handleQueue } from './consumer/queue-handler';
import { sweep } from './consumer/sweeper';
import { errorName, logError } from './log';

export { PrefixGuard } from './limiter/prefix-guard';
export { ProviderPacer } from './limiter/provider-pacer';
export { RateLimiter } from './limiter/rate-limiter';

const app = createApp();

export default {
  fetch: app.fetch,
  queue: (batch, env, _ctx) => handleQueue(batch, env),
  scheduled: async (_controller, env, ctx) => {
    ctx.waitUntil(sweep(env).catch((error) => logError('sweep.failed', { error: errorName(error) })));
  },
} satisfies ExportedHandler<Env, unknown>;
