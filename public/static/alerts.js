// @ts-check
/**
 * The dashboard's Alerts panel (dashboard.html #alerts-panel): open incidents first, then those of
 * the last week, from GET /v1/admin/alerts, and where their notices go. The rules run on the
 * cron (docs/operators.md#alerts); this only reads what they recorded.
 */
import { $, adminGet, fill, fmtTime, h, loadWithDashboard, pill, td } from './dashboard-kit.js';

/**
 * What the panel reads of GET /v1/admin/alerts.
 * @typedef {{ opened: string, cleared: string | null, attempts: number, nextAttemptAt: string | null, lastError: string | null }} Notices
 * @typedef {{ id: string, rule: string, scope: string | null, state: string, openedAt: string, clearedAt: string | null, summary: string | null, notices: Notices }} Incident
 * @typedef {{ url: string | null, problem: string | null, secretVersion: number }} Receiver
 */

/** @param {Notices} notices */
function noticeText(notices) {
  const parts = [`opened: ${notices.opened}`];
  if (notices.cleared) parts.push(`cleared: ${notices.cleared}`);
  if (notices.nextAttemptAt) parts.push(`next try ${fmtTime(notices.nextAttemptAt)}`);
  if (notices.lastError) parts.push(notices.lastError);
  return parts.join(' · ');
}

/** @param {Receiver} receiver */
function receiverText(receiver) {
  if (!receiver.url) return 'No receiver set (ALERT_WEBHOOK_URL): incidents are listed here only.';
  if (receiver.problem) return `Receiver ${receiver.url} is refused: ${receiver.problem}`;
  return `Posted, signed, to ${receiver.url}`;
}

async function loadAlerts() {
  $('alerts-error').textContent = '';
  /** @type {{ incidents: Incident[], receiver: Receiver }} */
  const body = await adminGet('/v1/admin/alerts?days=7&limit=50');
  $('alerts-receiver').textContent = receiverText(body.receiver);
  fill(
    $('alerts'),
    body.incidents.map((incident) =>
      h(
        'tr',
        { 'data-testid': 'alert-row', 'data-state': incident.state },
        td('state', pill(incident.state)),
        td('rule', incident.rule),
        td('scope', incident.scope ?? 'all'),
        td('what', incident.summary ?? '', { class: 'wrap' }),
        td('opened', fmtTime(incident.openedAt), { class: 'when' }),
        td('cleared', fmtTime(incident.clearedAt), { class: 'when' }),
        td('notices', noticeText(incident.notices), { class: 'wrap small' }),
      ),
    ),
    'No incidents in the last 7 days',
    7,
  );
}

loadWithDashboard(loadAlerts, 'alerts-error');
