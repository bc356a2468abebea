import type { Config } from '../config';
import { scopeLedgerFor, stepUpPolicyOf } from '../limiter/scope-watch';
import { evaluateRules, type IncidentChange } from './evaluate';
import { deliverDueNotices } from './notices';
import { type CircuitSource, d1CircuitSource, type StepUpSource } from './rules';

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
 * circuits are read (by default the D1 table provider health writes), `stepUps` the conversion
 * scopes (by default one call to the ScopeLedger object a minute).
 */
export async function runAlerts(
  env: Env,
  config: Config,
  clock: AlertClock = systemAlertClock,
  circuits: CircuitSource = d1CircuitSource(env.DB),
  stepUps: StepUpSource = ledgerStepUps(env, config, clock),
): Promise<AlertRunSummary> {
  const changes = await evaluateRules({ db: env.DB, config, now: clock.now(), circuits, stepUps }, config.alerts.webhookUrl !== null);
  const noticesDelivered = await deliverDueNotices(env.DB, config, () => clock.now());
  return { changes, noticesDelivered };
}

/** The scopes whose conversion signal says step up, as the ledger judges them now. */
function ledgerStepUps(env: Env, config: Config, clock: AlertClock): StepUpSource {
  return {
    async steppedUp() {
      const scopes = await scopeLedgerFor(env).list({ now: clock.now(), policy: stepUpPolicyOf(config) });
      // A ScopeView carries every field of SteppedUpScope; the rule picks what it reports.
      return scopes.filter((view) => view.signal === 'stepped_up');
    },
  };
}
