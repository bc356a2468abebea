import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import worker from '../../src/index';
import { sendJob } from '../../src/queue/messages';

let messageCounter = 0;

/** Delivers messages to the Worker's queue handler as the runtime would, and returns acks and retries. */
export async function deliver(testEnv: Env, queue: string, bodies: unknown[], attempts = 1) {
  const messages = bodies.map((body) => ({ id: `msg-${++messageCounter}`, timestamp: Date.now(), attempts, body }));
  const batch = createMessageBatch(queue, messages);
  const delays = recordRetryDelays(batch);
  const ctx = createExecutionContext();
  await worker.queue(batch, testEnv, ctx);
  const result = await getQueueResult(batch, ctx);
  result.retryMessages = result.retryMessages.map((retried) => ({ ...retried, delaySeconds: delays.get(retried.msgId) }));
  return { ids: messages.map((message) => message.id), result };
}

export function deliverSendJobs(testEnv: Env, requestIds: string[], attempts = 1) {
  return deliver(
    testEnv,
    'otp-send',
    requestIds.map((id) => sendJob(id)),
    attempts,
  );
}

/** getQueueResult reports which messages were retried but not with what delay: this records it, by message id. */
export function recordRetryDelays(batch: MessageBatch<unknown>): Map<string, number | undefined> {
  const delays = new Map<string, number | undefined>();
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    Object.defineProperty(message, 'retry', {
      value: (options?: QueueRetryOptions) => {
        delays.set(message.id, options?.delaySeconds);
        retry(options);
      },
    });
  }
  return delays;
}
