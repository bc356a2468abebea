import { runAlerts } from '../alerts/run-alerts';
import { loadConfig } from '../config';
import { errorName, logError } from '../log';
import { reviveStalledResends } from '../resend/revival';
import { RETENTION_CRON, runRetention } from './retention';
import { sweep } from './sweeper';

/**
 * The Worker's `scheduled` handler: the daily cron runs retention, the every-minute one the
 * sweeper, the revival of stalled bulk resends and the alerts (rules, then notices). Each job runs
 * and fails on its own: a slow alert receiver holds up no sweep.
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
  ctx.waitUntil(
    Promise.resolve()
      .then(() => runAlerts(env, loadConfig(env)))
      .catch((error) => logError('alerts.failed', { error: errorName(error) })),
  );
  ctx.waitUntil(reviveStalledResends(env).catch((error) => logError('resend.revive_failed', { error: errorName(error) })));
}
