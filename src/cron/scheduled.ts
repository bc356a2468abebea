import { loadConfig } from '../config';
import { errorName, logError } from '../log';
import { reviveStalledResends } from '../resend/revival';
import { RETENTION_CRON, runRetention } from './retention';
import { sweep } from './sweeper';

/**
 * The Worker's `scheduled` handler: the daily cron runs retention, the every-minute one the
 * sweeper and the revival of stalled bulk resends. Each job's failure is logged on its own.
 */
export async function handleScheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
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
}
