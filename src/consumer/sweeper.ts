import { errorName, logError, logInfo } from '../log';
import { sendJob } from '../queue/messages';

/** A queued request with no enqueue mark after this long lost its job on the way to the queue. */
export const ORPHAN_AFTER_MS = 30_000;
/**
 * A queued request untouched for this long has no job in flight (the longest retry delay is a
 * minute or two): re-enqueue it too. A duplicate job is harmless; the consumer dedupes it.
 */
export const STALE_AFTER_MS = 5 * 60_000;
const SWEEP_LIMIT = 100;

/**
 * Runs on the cron trigger. The API writes the request before it enqueues the job, so a failed
 * `queue.send` leaves a queued row behind instead of losing the request: this re-enqueues such
 * rows, and ends requests whose code expired before anything could be sent.
 */
export async function sweep(env: Env, now = Date.now()): Promise<{ reenqueued: number; expired: number }> {
  const expired = await env.DB.prepare(
    `UPDATE otp_requests
     SET status = 'expired', updated_at = ?1, lease_until = NULL,
         last_error_code = COALESCE(last_error_code, 'expired_before_delivery'),
         last_error_message = COALESCE(last_error_message, 'the code expired before it could be sent')
     WHERE status IN ('queued', 'sending') AND expires_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)`,
  )
    .bind(now)
    .run();

  const { results } = await env.DB.prepare(
    `SELECT id FROM otp_requests
     WHERE status = 'queued' AND expires_at > ?2
       AND ((enqueued_at IS NULL AND created_at <= ?1) OR updated_at <= ?3)
     ORDER BY created_at LIMIT ${SWEEP_LIMIT}`,
  )
    .bind(now - ORPHAN_AFTER_MS, now, now - STALE_AFTER_MS)
    .all<{ id: string }>();
  let reenqueued = 0;
  if (results.length > 0) {
    try {
      await env.SEND_QUEUE.sendBatch(results.map((row) => ({ body: sendJob(row.id) })));
      const placeholders = results.map((_, index) => `?${index + 2}`).join(', ');
      await env.DB.prepare(`UPDATE otp_requests SET enqueued_at = ?1, updated_at = ?1 WHERE id IN (${placeholders})`)
        .bind(now, ...results.map((row) => row.id))
        .run();
      reenqueued = results.length;
    } catch (error) {
      logError('sweep.reenqueue_failed', { error: errorName(error), requests: results.length });
    }
  }
  const summary = { reenqueued, expired: expired.meta.changes ?? 0 };
  if (summary.reenqueued || summary.expired) logInfo('sweep.done', summary);
  return summary;
}
