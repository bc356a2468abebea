import { errorName, logError, logInfo } from '../log';
import { resendFanout } from '../queue/messages';

/** A job whose next step has not run for this long lost it on the way to the queue. */
export const RESEND_STALLED_AFTER_MS = 5 * 60_000;
const REVIVE_LIMIT = 20;

/**
 * Runs on the every-minute cron: re-enqueues the current step of bulk resends that stopped moving
 * (their first or next step never reached the queue). A step that was only late runs once all
 * the same: the copy that comes second finds the step done and does nothing.
 */
export async function reviveStalledResends(env: Env, now = Date.now()): Promise<{ revived: number }> {
  const { results } = await env.DB.prepare(
    `SELECT id, chunks_done FROM resend_jobs WHERE finished_at IS NULL AND updated_at <= ?1 ORDER BY updated_at LIMIT ${REVIVE_LIMIT}`,
  )
    .bind(now - RESEND_STALLED_AFTER_MS)
    .all<{ id: string; chunks_done: number }>();
  if (results.length === 0) return { revived: 0 };
  try {
    await env.SEND_QUEUE.sendBatch(results.map((job) => ({ body: resendFanout(job.id, job.chunks_done) })));
    const placeholders = results.map((_, index) => `?${index + 2}`).join(', ');
    await env.DB.prepare(`UPDATE resend_jobs SET updated_at = ?1 WHERE id IN (${placeholders})`)
      .bind(now, ...results.map((job) => job.id))
      .run();
  } catch (error) {
    logError('resend.revive_failed', { error: errorName(error), jobs: results.length });
    return { revived: 0 };
  }
  logInfo('resend.revived', { jobs: results.length });
  return { revived: results.length };
}
