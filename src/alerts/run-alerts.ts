import type { Config } from '../config';
import { evaluateRules, type IncidentChange } from './evaluate';
import { deliverDueNotices } from './notices';
import { type CircuitSource, d1CircuitSource } from './rules';

export interface AlertClock {
  now(): number;
}
export const systemAlertClock: AlertClock = { now: () => Date.now() };

export interface AlertRunSummary {
  changes: IncidentChange[];
  noticesDelivered: number;
}

/**
 * The alerts' part of the every-minute cron: evaluate the rules against what D1 holds now, then
 * post the notices that are due (the ones just written among them). `circuits` is where provider
 * circuits are read; by default the D1 table provider health writes.
 */
export async function runAlerts(
  env: Env,
  config: Config,
  clock: AlertClock = systemAlertClock,
  circuits: CircuitSource = d1CircuitSource(env.DB),
): Promise<AlertRunSummary> {
  const changes = await evaluateRules({ db: env.DB, config, now: clock.now(), circuits }, config.alerts.webhookUrl !== null);
  const noticesDelivered = await deliverDueNotices(env.DB, config, () => clock.now());
  return { changes, noticesDelivered };
}
