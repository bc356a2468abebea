import type { Config } from '../config';
import type { AttemptRecord } from '../db/delivery-attempts';
import { errorName, logWarn } from '../log';
import { statusCheck } from '../queue/messages';
import { statusCheckDelaySeconds } from './check-policy';

const QUEUE_SEND_BATCH_LIMIT = 100;

/**
 * After a batch's outcomes are committed: one delayed first status check per message the provider
 * accepted with an id to ask about. A failed enqueue costs only the delivery report, never the
 * SMS, so it is logged and not retried here: the sweeper enqueues the check once it is overdue.
 */
export async function scheduleStatusChecks(env: Env, config: Config, attempts: readonly AttemptRecord[]): Promise<void> {
  if (config.deliveryChecks.maxChecks === 0) return;
  const accepted = attempts.filter((attempt) => attempt.decision.action === 'sent' && attempt.decision.messageId);
  const delaySeconds = statusCheckDelaySeconds(1, config.deliveryChecks);
  for (let start = 0; start < accepted.length; start += QUEUE_SEND_BATCH_LIMIT) {
    const slice = accepted.slice(start, start + QUEUE_SEND_BATCH_LIMIT);
    try {
      // An `auto` request's WhatsApp message is first checked when its time to be delivered is up.
      await env.SEND_QUEUE.sendBatch(
        slice.map((attempt) => ({ body: statusCheck(attempt.requestId, attempt.firstCheck ?? 1), delaySeconds: attempt.fallbackAfterSeconds ?? delaySeconds })),
      );
    } catch (error) {
      logWarn('status_check.schedule_failed', { requests: slice.length, error: errorName(error) });
    }
  }
}
