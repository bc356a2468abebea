import { errorName, logError, logWarn } from '../log';
import { DeadLetterBody } from '../queue/messages';

/**
 * Consumes `otp-send-dlq`: send jobs that ran out of retries end as `failed`, and every dead
 * letter is kept in D1 with its reason so operators can see what was dropped and why.
 */
export async function handleDeadLetterBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const now = Date.now();
  for (const message of batch.messages) {
    const parsed = DeadLetterBody.safeParse(message.body);
    const body = parsed.success ? parsed.data : null;
    const requestId = body?.type === 'send' || body?.type === 'status_check' ? body.requestId : null;
    const reason = !body
      ? 'unreadable_dead_letter'
      : body.type === 'rejected'
        ? body.reason
        : body.type === 'send'
          ? 'retries_exhausted'
          : `${body.type}_retries_exhausted`;
    const statements = [
      env.DB.prepare('INSERT INTO dead_letters (message_id, request_id, reason, received_at) VALUES (?1, ?2, ?3, ?4)').bind(
        body?.type === 'rejected' ? body.sourceMessageId : message.id,
        requestId,
        reason,
        now,
      ),
    ];
    // Only a send that gave up ends its request; a lost status check or resend step does not.
    if (requestId && body?.type === 'send') {
      statements.push(
        env.DB.prepare(
          `UPDATE otp_requests
           SET status = 'failed', updated_at = ?1, lease_until = NULL, last_error_code = 'retries_exhausted',
               last_error_message = COALESCE(last_error_code || ': ', '') || 'gave up after ' || attempts || ' attempt(s)'
           WHERE id = ?2 AND status IN ('queued', 'sending')`,
        ).bind(now, requestId),
      );
    }
    try {
      await env.DB.batch(statements);
      logWarn('dead_letter.recorded', { messageId: message.id, requestId, reason });
      message.ack();
    } catch (error) {
      logError('dead_letter.record_failed', { messageId: message.id, error: errorName(error) });
      message.retry({ delaySeconds: 30 });
    }
  }
}
