import type { Config } from '../config';
import type { AttemptRecord } from '../db/delivery-attempts';
import { errorName, logWarn } from '../log';
import { MAX_CHECKS_PER_MESSAGE, statusChecks } from '../queue/messages';
import { statusCheckDelaySeconds } from './check-policy';

/** Queues take at most 100 messages in one `sendBatch`. */
const QUEUE_SEND_BATCH_LIMIT = 100;

/**
 * After a batch's outcomes are committed: a delayed first status check for every message the
 * provider accepted with an id to ask about. Checks due after the same delay with the same check
 * number travel together in one `status_checks` message (Queues bill per message, and most first
 * checks end without a provider call once the user has verified). A failed enqueue costs only the
 * delivery reports, never an SMS, so it is logged and not retried here: the sweeper enqueues each
 * check once it is overdue.
 */
export async function scheduleStatusChecks(env: Env, config: Config, attempts: readonly AttemptRecord[]): Promise<void> {
  if (config.deliveryChecks.maxChecks === 0) return;
  const accepted = attempts.filter((attempt) => attempt.decision.action === 'sent' && attempt.decision.messageId);
  const messages = firstCheckMessages(accepted, statusCheckDelaySeconds(1, config.deliveryChecks));
  for (let start = 0; start < messages.length; start += QUEUE_SEND_BATCH_LIMIT) {
    const slice = messages.slice(start, start + QUEUE_SEND_BATCH_LIMIT);
    try {
      await env.SEND_QUEUE.sendBatch(slice);
    } catch (error) {
      logWarn('status_check.schedule_failed', { requests: slice.reduce((sum, message) => sum + message.body.checks.length, 0), error: errorName(error) });
    }
  }
}

/** One message per (delay, check number), in chunks a message can hold, in the attempts' order. */
function firstCheckMessages(accepted: readonly AttemptRecord[], delaySeconds: number) {
  const groups = new Map<string, { delaySeconds: number; checks: Array<{ requestId: string; check: number }> }>();
  for (const attempt of accepted) {
    // An `auto` request's WhatsApp message is first checked when its time to be delivered is up;
    // after a fallback, the SMS's checks are numbered on from the WhatsApp message's.
    const delay = attempt.fallbackAfterSeconds ?? delaySeconds;
    const check = attempt.firstCheck ?? 1;
    const key = `${delay}:${check}`;
    const group = groups.get(key) ?? { delaySeconds: delay, checks: [] };
    group.checks.push({ requestId: attempt.requestId, check });
    groups.set(key, group);
  }
  return [...groups.values()].flatMap(({ delaySeconds, checks }) =>
    Array.from({ length: Math.ceil(checks.length / MAX_CHECKS_PER_MESSAGE) }, (_, index) => ({
      body: statusChecks(checks.slice(index * MAX_CHECKS_PER_MESSAGE, (index + 1) * MAX_CHECKS_PER_MESSAGE)),
      delaySeconds,
    })),
  );
}
