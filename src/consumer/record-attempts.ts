import type { Config } from '../config';
import { lateAttemptStatements } from '../db/late-attempts';
import { scheduleStatusChecks } from '../delivery-reports/schedule-checks';
import { errorName, logError } from '../log';
import { type RecordAttempts, sendJob } from '../queue/messages';
import { enqueueWrittenEvents } from '../webhooks/enqueue-events';

/**
 * Writes provider-call outcomes that could not be written when the calls were made, then puts
 * the jobs that were to be retried back on the queue with their delay. Writing twice is
 * harmless: attempt rows are unique per (request, attempt) and status updates apply only to a
 * request still held by this attempt's claim. They are late by design (D1 was failing), so they
 * are written as late outcomes: an SMS that went out counts as sent whatever the sweeper did meanwhile.
 */
export async function handleRecordAttempts(
  messages: ReadonlyArray<{ message: Message<unknown>; body: RecordAttempts }>,
  env: Env,
  config: Config,
): Promise<void> {
  for (const { message, body } of messages) {
    try {
      await enqueueWrittenEvents(env, await env.DB.batch(body.attempts.flatMap((attempt) => lateAttemptStatements(env.DB, attempt))));
      const retries = body.attempts.filter((attempt) => attempt.decision.action === 'retry');
      if (retries.length > 0) {
        await env.SEND_QUEUE.sendBatch(
          retries.map((attempt) => ({
            body: sendJob(attempt.requestId),
            delaySeconds: attempt.decision.action === 'retry' ? attempt.decision.delaySeconds : 0,
          })),
        );
      }
      await scheduleStatusChecks(env, config, body.attempts);
      message.ack();
    } catch (error) {
      logError('record_attempts.failed', { messageId: message.id, error: errorName(error) });
      message.retry({ delaySeconds: 10 });
    }
  }
}
