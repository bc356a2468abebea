import { mapWithConcurrency } from '../concurrency';
import type { Config } from '../config';
import { claimDueNotices, type IncidentRow, type NoticeState, noNoticeDueStatement, noticeOutcomeStatement } from '../db/alert-incidents';
import { errorName, logError, logInfo } from '../log';
import { postEvent } from '../webhooks/post-event';
import { alertSigningSecret, signatureHeader } from '../webhooks/signing';
import { checkWebhookUrl } from '../webhooks/webhook-url';

/** Notices posted per cron run; the rest wait for the next minute. */
const NOTICES_PER_RUN = 20;
/** Posts in flight at once. */
const CONCURRENCY = 4;
/** A notice not delivered within a day of its change is given up. */
export const NOTICE_GIVE_UP_MS = 86_400_000;
/** First retry a minute after a failure (the cron's pace), doubling to an hour. */
export function noticeRetryDelayMs(attempts: number): number {
  return Math.min(3_600_000, 60_000 * 2 ** Math.min(Math.max(attempts, 1) - 1, 6));
}

export type Notice = 'opened' | 'cleared';

/** The body of a notice, in the shape of the apps' webhook events (docs/operators.md#alerts). */
export function noticeBody(incident: IncidentRow, notice: Notice): string {
  const detail = JSON.parse(incident.detail_json) as Record<string, unknown>;
  const { summary, ...measured } = detail;
  const at = notice === 'opened' ? incident.opened_at : (incident.cleared_at ?? incident.opened_at);
  return JSON.stringify({
    id: `${incident.id}_${notice}`,
    type: `alert.${notice}`,
    timestamp: new Date(at).toISOString(),
    data: {
      incidentId: incident.id,
      rule: incident.rule,
      scope: incident.scope === '' ? null : incident.scope,
      openedAt: new Date(incident.opened_at).toISOString(),
      clearedAt: incident.cleared_at === null ? null : new Date(incident.cleared_at).toISOString(),
      summary: typeof summary === 'string' ? summary : null,
      detail: measured,
    },
  });
}

/**
 * Posts the notices that are due, signed in the Standard Webhooks format with the alert secret,
 * and records each outcome. Every post has WEBHOOK_TIMEOUT_MS and this runs in its own
 * `waitUntil`, so a slow or failing receiver holds up nothing else the cron does: its notices
 * are tried again on later runs (1 min, doubling to 1 h) and given up a day after their change.
 */
export async function deliverDueNotices(db: D1Database, config: Config, now: () => number): Promise<number> {
  const leaseMs = 60_000 + config.webhooks.timeoutMs * Math.ceil(NOTICES_PER_RUN / CONCURRENCY);
  const claimed = await claimDueNotices(db, now(), leaseMs, NOTICES_PER_RUN);
  let delivered = 0;
  await mapWithConcurrency(claimed, CONCURRENCY, async (incident) => {
    try {
      const first = await postNotice(db, incident, config, now);
      if (first === 'delivered') delivered++;
      // Cleared while its opened notice waited: the cleared one follows at once.
      if (incident.opened_notice === 'pending' && first !== 'pending' && incident.cleared_notice === 'pending') {
        if ((await postNotice(db, { ...incident, opened_notice: first ?? 'skipped', notice_attempts: 0 }, config, now)) === 'delivered') delivered++;
      }
    } catch (error) {
      // Unrecorded: the claim's lease lapses and the notice is posted again (receivers deduplicate by webhook-id).
      logError('alert.notice_record_failed', { incidentId: incident.id, error: errorName(error) });
    }
  });
  return delivered;
}

async function postNotice(db: D1Database, incident: IncidentRow, config: Config, now: () => number): Promise<NoticeState | null> {
  const notice: Notice | null = incident.opened_notice === 'pending' ? 'opened' : incident.cleared_notice === 'pending' ? 'cleared' : null;
  const settle = (outcome: NoticeState, attempts: number, error: string | null) => settleNotice(db, incident, notice!, outcome, attempts, error, now());
  if (notice === null) {
    await noNoticeDueStatement(db, incident.id).run();
    return null;
  }
  const url = config.alerts.webhookUrl;
  // The receiver was unset since the change: nothing to post to.
  if (url === null) return settle('skipped', 0, null);
  const attempts = incident.notice_attempts + 1;
  const checked = checkWebhookUrl(url, config.environment);
  const secretKey = config.secrets.WEBHOOK_SECRET_KEY;
  let failure: string;
  if (!checked.ok) failure = `url_refused: ALERT_WEBHOOK_URL ${checked.message}`;
  else if (!secretKey) failure = 'secret_missing: WEBHOOK_SECRET_KEY is not set';
  else {
    const body = noticeBody(incident, notice);
    const id = `${incident.id}_${notice}`;
    const timestamp = Math.floor(now() / 1000);
    const secret = await alertSigningSecret(secretKey, config.alerts.secretVersion);
    const headers = {
      'Content-Type': 'application/json',
      'User-Agent': 'otp-dispatcher-alerts/1',
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': await signatureHeader([secret], id, timestamp, body),
    };
    const posted = await postEvent(checked.url, headers, body, config.webhooks.timeoutMs);
    if (posted.kind === 'delivered') return settle('delivered', attempts, null);
    failure = posted.kind === 'gone' ? 'gone: the receiver answered HTTP 410' : `${posted.errorCode}: ${posted.message}`;
  }
  const changedAt = notice === 'opened' ? incident.opened_at : (incident.cleared_at ?? incident.opened_at);
  return settle(now() - changedAt >= NOTICE_GIVE_UP_MS ? 'failed' : 'pending', attempts, failure);
}

/** Records a notice's outcome: a failed post is retried later; a settled opened notice lets a pending cleared one go at once. */
async function settleNotice(
  db: D1Database,
  incident: IncidentRow,
  notice: Notice,
  outcome: NoticeState,
  attempts: number,
  error: string | null,
  at: number,
): Promise<NoticeState> {
  await noticeOutcomeStatement(db, {
    id: incident.id,
    notice,
    outcome,
    attempts: outcome === 'pending' ? attempts : 0,
    retryAt: outcome === 'pending' ? at + noticeRetryDelayMs(attempts) : null,
    at,
    error: error?.slice(0, 300) ?? null,
  }).run();
  const log = outcome === 'delivered' || outcome === 'skipped' ? logInfo : logError;
  log('alert.notice', { incidentId: incident.id, notice, outcome, attempt: attempts, error: error ?? undefined });
  return outcome;
}
