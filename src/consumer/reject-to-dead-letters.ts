import { errorName, logError, logWarn } from '../log';
import type { RejectedMessage } from '../queue/messages';

/**
 * Moves a message the consumer cannot act on to the dead-letter queue with the reason (never its
 * body, which may hold data) and acks it, so it is recorded once instead of retried forever.
 */
export async function deadLetterUnreadable(env: Env, message: Message<unknown>, reason: string): Promise<void> {
  const body: RejectedMessage = { type: 'rejected', v: 1, sourceMessageId: message.id, reason: reason.slice(0, 500) };
  try {
    await env.DEAD_LETTER_QUEUE.send(body);
    logWarn('send.dead_lettered', { messageId: message.id, reason: body.reason });
    message.ack();
  } catch (error) {
    logError('send.dead_letter_failed', { messageId: message.id, error: errorName(error) });
    message.retry({ delaySeconds: 30 });
  }
}
