import { type Config, loadConfig } from '../config';
import { errorName, logError, logInfo } from '../log';
import { sendJob, statusCheck } from '../queue/messages';
import { pacingHorizonMs } from '../pacing/provider-slots';
import { statusCheckDelaySeconds } from '../delivery-reports/check-policy';

/** The send queue's `max_batch_timeout` in wrangler.toml, in ms (a test checks they agree). */
export const QUEUE_BATCH_TIMEOUT_MS = 1000;
/**
 * Requests of each kind recovered per run, oldest first: a crash under load can leave many
 * behind, and what is left waits for the next minute.
 */
export const SWEEP_LIMIT = 1000;
/** Messages per `sendBatch` (the Queues limit), ids per statement (D1 allows 100 bound parameters). */
const CHUNK = 90;

/**
 * How long past the moment it was due a request may show no sign of life before the sweeper
 * takes its job for lost. A live job can be that late: it waits up to the queue's batch timeout to
 * be delivered, up to the pacing horizon for a send time, and a provider call's timeout while the
 * calls before it in its batch finish, plus a margin. At the defaults that is 19.75 s; it is capped
 * at a quarter of the code's lifetime, so a short-lived code is recovered while it can still be
 * used. A job taken for lost too early costs nothing but a duplicate job: the claim's lease lets
 * only one copy call the provider, and the stable idempotency key keeps a repeated call from
 * sending a second SMS.
 */
export function stallGraceMs(config: Config): number {
  const lateness = QUEUE_BATCH_TIMEOUT_MS + pacingHorizonMs(config.providerRatePerSecond) + config.provider.timeoutMs + 5000;
  return Math.min(lateness, (config.otp.ttlSeconds * 1000) / 4);
}

export interface SweepSummary {
  reenqueued: number;
  expired: number;
  checksRescheduled: number;
}

/**
 * Runs on the cron trigger (every minute) and recovers what a crash, a lost queue message or a
 * failed enqueue leaves behind:
 * - ends requests whose code expired before anything could be sent;
 * - re-enqueues the send job of every request that can still be sent and whose job is lost: one
 *   `queued` or `sending` (its claimant died) with no sign of life for `stallGraceMs` past the
 *   moment something was due to happen (its lease lapsing, its scheduled retry);
 * - re-enqueues the next status check of every `sent` request whose delivery report chain
 *   stalled the same way.
 */
export async function sweep(env: Env, now = Date.now(), config: Config = loadConfig(env)): Promise<SweepSummary> {
  const expired = await env.DB.prepare(
    `UPDATE otp_requests
     SET status = 'expired', updated_at = ?1, lease_until = NULL,
         last_error_code = COALESCE(last_error_code, 'expired_before_delivery'),
         last_error_message = COALESCE(last_error_message, 'the code expired before it could be sent')
     WHERE status IN ('queued', 'sending') AND expires_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)`,
  )
    .bind(now)
    .run();
  const grace = stallGraceMs(config);
  const summary: SweepSummary = {
    reenqueued: await reenqueueStalledSends(env, now, grace),
    expired: expired.meta.changes ?? 0,
    checksRescheduled: await rescheduleStalledChecks(env, config, now, grace),
  };
  if (summary.reenqueued || summary.expired || summary.checksRescheduled) logInfo('sweep.done', { ...summary });
  return summary;
}

/**
 * The last sign of life of a waiting request is its latest change, enqueue or lease end; a retry
 * its last attempt scheduled is due that many seconds after the change. Rows of every age are
 * read through the (status, created_at) index, oldest first: none is older than its code's lifetime.
 */
async function reenqueueStalledSends(env: Env, now: number, grace: number): Promise<number> {
  const { results } = await env.DB.prepare(
    `SELECT r.id FROM otp_requests r
     LEFT JOIN delivery_attempts a ON a.request_id = r.id AND a.attempt_number = r.attempts AND a.outcome = 'retry'
     WHERE r.status IN ('queued', 'sending') AND r.expires_at > ?1
       AND MAX(r.created_at, r.updated_at, COALESCE(r.enqueued_at, 0), COALESCE(r.lease_until, 0))
           + COALESCE(a.retry_delay_seconds, 0) * 1000 + ?2 <= ?1
     ORDER BY r.created_at LIMIT ${SWEEP_LIMIT}`,
  )
    .bind(now, grace)
    .all<{ id: string }>();
  let reenqueued = 0;
  for (const ids of chunks(results.map((row) => row.id))) {
    try {
      await env.SEND_QUEUE.sendBatch(ids.map((id) => ({ body: sendJob(id) })));
    } catch (error) {
      logError('sweep.reenqueue_failed', { error: errorName(error), requests: ids.length });
      break;
    }
    // The mark starts the grace afresh: the job just sent is not taken for lost before it had time to run.
    const placeholders = ids.map((_, index) => `?${index + 2}`).join(', ');
    await env.DB.prepare(`UPDATE otp_requests SET enqueued_at = ?1 WHERE id IN (${placeholders}) AND status IN ('queued', 'sending')`)
      .bind(now, ...ids)
      .run();
    reenqueued += ids.length;
  }
  return reenqueued;
}

/**
 * A `sent` request still waiting for a final delivery report has its next check due a fixed time
 * after the send (the first) or after the previous check (its recorded `next_check_seconds`). One
 * overdue by the grace lost its `status_check` message; the check is enqueued again, to run now.
 * A copy that was merely late finds the check recorded and is dropped. Requests older than the
 * longest chain of checks are past caring about.
 */
async function rescheduleStalledChecks(env: Env, config: Config, now: number, grace: number): Promise<number> {
  const { maxChecks } = config.deliveryChecks;
  if (maxChecks === 0) return 0;
  let chainMs = 0;
  for (let check = 1; check <= maxChecks; check++) chainMs += statusCheckDelaySeconds(check, config.deliveryChecks) * 1000;
  const { results } = await env.DB.prepare(
    `SELECT r.id, r.delivery_checks FROM otp_requests r
     LEFT JOIN status_checks c ON c.request_id = r.id AND c.check_number = r.delivery_checks
     WHERE r.status = 'sent' AND r.created_at > ?1 AND r.provider_message_id IS NOT NULL
       AND (r.delivery_status IS NULL OR r.delivery_status = 'pending') AND r.delivery_checks < ?2
       AND CASE WHEN r.delivery_checks = 0 THEN r.sent_at + ?3
                ELSE c.checked_at + c.duration_ms + c.next_check_seconds * 1000 END + ?4 <= ?5
     ORDER BY r.created_at LIMIT ${SWEEP_LIMIT}`,
  )
    .bind(now - chainMs - config.otp.ttlSeconds * 1000 - grace, maxChecks, statusCheckDelaySeconds(1, config.deliveryChecks) * 1000, grace, now)
    .all<{ id: string; delivery_checks: number }>();
  let rescheduled = 0;
  for (const rows of chunks(results)) {
    try {
      await env.SEND_QUEUE.sendBatch(rows.map((row) => ({ body: statusCheck(row.id, row.delivery_checks + 1) })));
    } catch (error) {
      logError('sweep.status_checks_failed', { error: errorName(error), requests: rows.length });
      break;
    }
    rescheduled += rows.length;
  }
  return rescheduled;
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += CHUNK) out.push(items.slice(start, start + CHUNK));
  return out;
}
