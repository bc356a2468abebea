import { ConfigError, loadConfig } from '../config';
import { deadLetterStatement, failExhaustedSendStatement } from '../db/dead-letters';
import { lateAttemptStatements } from '../db/late-attempts';
import { requestEventStatement } from '../db/webhook-events';
import { scheduleStatusChecks } from '../delivery-reports/schedule-checks';
import { errorName, logError, logWarn } from '../log';
import { DeadLetterBody, type RecordAttempts } from '../queue/messages';
import { enqueueWrittenEvents } from '../webhooks/enqueue-events';

/** First delay of a dead letter whose D1 write failed; it doubles on each retry up to the cap. */
const RETRY_BASE_SECONDS = 30;
const RETRY_MAX_SECONDS = 900;

/**
 * How long a dead letter waits after its D1 write failed. With `max_retries = 100` on
 * `otp-send-dlq` (wrangler.toml) the retries span about a day: past them a dead letter is
 * dropped without a trace, and one holding provider outcomes holds the only record of them.
 */
export function deadLetterRetryDelaySeconds(attempts: number): number {
  return Math.min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** Math.min(Math.max(attempts, 1) - 1, 10));
}

/**
 * Consumes `otp-send-dlq`: send jobs that ran out of retries end as `failed`, provider outcomes
 * whose D1 write ran out of retries are written now, and every dead letter is kept in D1 with
 * its reason so operators can see what was dropped and why.
 */
export async function handleDeadLetterBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const now = Date.now();
  for (const message of batch.messages) {
    const parsed = DeadLetterBody.safeParse(message.body);
    const body = parsed.success ? parsed.data : null;
    if (body?.type === 'record_attempts') {
      await recordLateAttempts(message, body, env, now);
      continue;
    }
    const requestIds = requestIdsOf(body);
    const reason = reasonOf(body);
    const messageId = body?.type === 'rejected' ? body.sourceMessageId : message.id;
    // One row per request the message was about (a batch's first checks: one each, under its one message id).
    const statements = (requestIds.length > 0 ? requestIds : [null]).map((requestId) => deadLetterStatement(env.DB, messageId, requestId, reason, now));
    // Only a send that gave up ends its request; a lost status check or resend step does not.
    if (body?.type === 'send') {
      statements.push(failExhaustedSendStatement(env.DB, body.requestId, now), requestEventStatement(env.DB, body.requestId, now));
    }
    try {
      await enqueueWrittenEvents(env, await env.DB.batch(statements));
      const requests = body?.type === 'status_checks' ? { requests: requestIds.length } : { requestId: requestIds[0] ?? null };
      logWarn('dead_letter.recorded', { messageId: message.id, ...requests, reason });
      message.ack();
    } catch (error) {
      retryLater(message, error);
    }
  }
}

/**
 * Provider calls were made but D1 failed every time their outcomes were to be written: write
 * them now, in the same transaction as one dead letter per request, so the SMS that went out
 * count as sent and operators see that the outcome came late. Then, as on the normal path, the
 * accepted SMS get their delivery checks. Requests left `queued` by a late `retry` need nothing
 * more: their last change is old, so the sweeper re-enqueues them (or ends them `expired`)
 * within a minute.
 */
async function recordLateAttempts(message: Message<unknown>, body: RecordAttempts, env: Env, now: number): Promise<void> {
  const reason = 'record_attempts_retries_exhausted';
  const statements = body.attempts.flatMap((attempt) => [
    ...lateAttemptStatements(env.DB, attempt),
    deadLetterStatement(env.DB, message.id, attempt.requestId, reason, now),
  ]);
  try {
    await enqueueWrittenEvents(env, await env.DB.batch(statements));
  } catch (error) {
    retryLater(message, error);
    return;
  }
  const sent = body.attempts.filter((attempt) => attempt.decision.action === 'sent').length;
  logWarn('dead_letter.recorded', { messageId: message.id, reason, attempts: body.attempts.length, sent });
  if (sent > 0) {
    try {
      await scheduleStatusChecks(env, loadConfig(env), body.attempts);
    } catch (error) {
      // The outcomes are written; only their delivery reports are missed.
      const problem = error instanceof ConfigError ? error.problems.join('; ') : errorName(error);
      logError('dead_letter.status_checks_not_scheduled', { messageId: message.id, error: problem });
    }
  }
  message.ack();
}

/** The requests a dead letter was about: a send's or a status check's one, or each of a batch's first checks. */
function requestIdsOf(body: DeadLetterBody | null): string[] {
  switch (body?.type) {
    case 'send':
    case 'status_check':
      return [body.requestId];
    case 'status_checks':
      return body.checks.map((check) => check.requestId);
    default:
      return [];
  }
}

/** A batch's first checks that ran out of retries are lost status checks, recorded as such. */
function reasonOf(body: DeadLetterBody | null): string {
  if (!body) return 'unreadable_dead_letter';
  if (body.type === 'rejected') return body.reason;
  if (body.type === 'send') return 'retries_exhausted';
  return `${body.type === 'status_checks' ? 'status_check' : body.type}_retries_exhausted`;
}

function retryLater(message: Message<unknown>, error: unknown): void {
  const delaySeconds = deadLetterRetryDelaySeconds(message.attempts);
  logError('dead_letter.record_failed', { messageId: message.id, error: errorName(error), attempt: message.attempts, delaySeconds });
  message.retry({ delaySeconds });
}
