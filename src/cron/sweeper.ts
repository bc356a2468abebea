import { type Config, loadConfig } from '../config';
import { DEEP_WAITING_HORIZON_MS, expireUnsentRequests, markReenqueued, stalledCheckRows, stalledSendIds, WAITING_HORIZON_MS } from '../db/stalled-work';
import { statusCheckDelaySeconds } from '../delivery-reports/check-policy';
import { errorName, logError, logInfo } from '../log';
import { pacingHorizonMs, slowestRate } from '../pacing/provider-slots';
import { longestTimeoutMs } from '../providers/select-provider';
import { sendJob, statusCheck } from '../queue/messages';
import { enqueueWebhookEvents } from '../webhooks/enqueue-events';
import { sweepWebhookEvents, type WebhookSweepSummary } from './webhook-sweep';

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
  const lateness = QUEUE_BATCH_TIMEOUT_MS + pacingHorizonMs(slowestRate(config)) + longestTimeoutMs(config) + 5000;
  return Math.min(lateness, (config.otp.ttlSeconds * 1000) / 4);
}

export interface SweepSummary extends WebhookSweepSummary {
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
 *   stalled the same way;
 * - writes the webhook events that fall due and enqueues those whose job was lost (webhook-sweep.ts).
 */
export async function sweep(env: Env, now = Date.now(), config: Config = loadConfig(env)): Promise<SweepSummary> {
  const expired = await expireUnsentRequests(env.DB, now, isDeepSweep(now) ? DEEP_WAITING_HORIZON_MS : WAITING_HORIZON_MS);
  await enqueueWebhookEvents(env, expired.webhookEventIds);
  const grace = stallGraceMs(config);
  const summary: SweepSummary = {
    reenqueued: await reenqueueStalledSends(env, now, grace),
    expired: expired.expired,
    checksRescheduled: await rescheduleStalledChecks(env, config, now, grace),
    ...(await sweepWebhookEvents(env, config, now)),
  };
  if (Object.values(summary).some((count) => count > 0)) logInfo('sweep.done', { ...summary });
  return summary;
}

/**
 * The sweep of the first minute of each hour expires requests left waiting over the last day
 * instead of the last hour and a quarter: those a cron that did not run for a while left behind.
 */
export function isDeepSweep(now: number): boolean {
  return Math.floor(now / 60_000) % 60 === 0;
}

/** Re-enqueues the send job of each request whose job is lost (`stalledSendIds`). */
async function reenqueueStalledSends(env: Env, now: number, grace: number): Promise<number> {
  const ids = await stalledSendIds(env.DB, now, grace, SWEEP_LIMIT);
  let reenqueued = 0;
  for (const slice of chunks(ids)) {
    try {
      await env.SEND_QUEUE.sendBatch(slice.map((id) => ({ body: sendJob(id) })));
    } catch (error) {
      logError('sweep.reenqueue_failed', { error: errorName(error), requests: slice.length });
      break;
    }
    // The mark starts the grace afresh: the job just sent is not taken for lost before it had time to run.
    await markReenqueued(env.DB, slice, now);
    reenqueued += slice.length;
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
  const results = await stalledCheckRows(env.DB, {
    createdAfter: now - chainMs - config.otp.ttlSeconds * 1000 - grace,
    maxChecks,
    firstCheckDelayMs: statusCheckDelaySeconds(1, config.deliveryChecks) * 1000,
    grace,
    now,
    limit: SWEEP_LIMIT,
  });
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
