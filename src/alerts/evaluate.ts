import { ALERT_RULES, type AlertRule, clearIncidentStatement, type IncidentRow, openIncidentStatement, openIncidents } from '../db/alert-incidents';
import { newIncidentId } from '../ids';
import { errorName, logError, logWarn } from '../log';
import { type Finding, RULES, type RuleContext } from './rules';

export interface IncidentChange {
  id: string;
  rule: AlertRule;
  scope: string;
  change: 'opened' | 'cleared';
}

/**
 * Evaluates every rule once and brings the incidents in line: a scope whose condition holds and
 * has no open incident opens one, an open incident whose condition no longer holds clears. The
 * unique index on open incidents and the conditional clear make each change happen once however
 * many runs overlap: only the run whose statement changed a row reports (and notifies) it. A rule
 * whose read fails is skipped, its incidents left as they are: a fault is no all-clear.
 * `notify`: whether a receiver is set, so the new changes have a notice to post.
 */
export async function evaluateRules(context: RuleContext, notify: boolean): Promise<IncidentChange[]> {
  const open = await openIncidents(context.db);
  const planned: Array<{ change: IncidentChange; statement: D1PreparedStatement }> = [];
  for (const rule of ALERT_RULES) {
    let findings: Finding[];
    try {
      findings = await RULES[rule](context);
    } catch (error) {
      logError('alerts.rule_failed', { rule, error: errorName(error) });
      continue;
    }
    const openOfRule = new Map(open.filter((incident) => incident.rule === rule).map((incident) => [incident.scope, incident]));
    for (const finding of findings) {
      if (openOfRule.has(finding.scope)) continue;
      const id = newIncidentId();
      const detail = { summary: finding.summary, ...finding.detail };
      planned.push({
        change: { id, rule, scope: finding.scope, change: 'opened' },
        statement: openIncidentStatement(context.db, { id, rule, scope: finding.scope, at: context.now, detail, notify }),
      });
    }
    const holding = new Set(findings.map((finding) => finding.scope));
    for (const incident of openOfRule.values()) {
      if (holding.has(incident.scope)) continue;
      planned.push({
        change: { id: incident.id, rule, scope: incident.scope, change: 'cleared' },
        statement: clearIncidentStatement(context.db, incident.id, context.now, notify && incidentWasNotified(incident)),
      });
    }
  }
  if (planned.length === 0) return [];
  const results = await context.db.batch(planned.map((item) => item.statement));
  const changes = planned.filter((_, index) => (results[index]?.meta.changes ?? 0) > 0).map((item) => item.change);
  for (const change of changes) logWarn(`alert.${change.change}`, { incidentId: change.id, rule: change.rule, scope: change.scope });
  return changes;
}

/** A cleared notice goes only where the opened one went (or is still going): a receiver never hears of the end of an incident it was not told of. */
function incidentWasNotified(incident: IncidentRow): boolean {
  return incident.opened_notice !== 'skipped';
}
