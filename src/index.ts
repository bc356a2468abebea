import { createApp } from './api/app';
import { loadConfig } from './config';
import { handleQueue } from './consumer/queue-handler';
import { reviveStalledResends } from './resend/revival';
import { RETENTION_CRON, runRetention } from './consumer/retention';
import { sweep } from './consumer/sweeper';
import { errorName, logError } from './log';

export { PrefixGuard } from './limiter/prefix-guard';
export { ProviderPacer } from './pacing/provider-pacer';
export { RateLimiter } from './limiter/rate-limiter';

const app = createApp();

export default {
  fetch: app.fetch,
  queue: (batch, env, _ctx) => handleQueue(batch, env),
  scheduled: async (controller, env, ctx) => {
    if (controller.cron === RETENTION_CRON) {
      ctx.waitUntil(
        Promise.resolve()
          .then(() => runRetention(env, loadConfig(env)))
          .catch((error) => logError('retention.failed', { error: errorName(error) })),
      );
      return;
    }
    ctx.waitUntil(sweep(env).catch((error) => logError('sweep.failed', { error: errorName(error) })));
    ctx.waitUntil(reviveStalledResends(env).catch((error) => logError('resend.revive_failed', { error: errorName(error) })));
  },
} satisfies ExportedHandler<Env, unknown>;
