import { stalledJobs, touchJobs } from '../db/resend-jobs';
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
  const results = await stalledJobs(env.DB, now - RESEND_STALLED_AFTER_MS, REVIVE_LIMIT);
  if (results.length === 0) return { revived: 0 };
  try {
    await env.SEND_QUEUE.sendBatch(results.map((job) => ({ body: resendFanout(job.id, job.chunks_done) })));
    await touchJobs(
      env.DB,
      results.map((job) => job.id),
      now,
    );
  } catch (error) {
    logError('resend.revive_failed', { error: errorName(error), jobs: results.length });
    return { revived: 0 };
  }
  logInfo('resend.revived', { jobs: results.length });
  return { revived: results.length };
}
