import { env } from 'cloudflare:test';

export interface QueuedMessage {
  body: unknown;
  delaySeconds: number | undefined;
}

/**
 * A stand-in for the `otp-send` binding that keeps what the Worker enqueues, so a test sees each
 * message and its delay, and decides itself when (and how often) to deliver it.
 */
export function recordingQueue() {
  const messages: QueuedMessage[] = [];
  const binding = {
    send: async (body: unknown, options?: QueueSendOptions) => {
      messages.push({ body: structuredClone(body), delaySeconds: options?.delaySeconds });
    },
    sendBatch: async (batch: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
      for (const message of batch) {
        messages.push({ body: structuredClone(message.body), delaySeconds: message.delaySeconds ?? options?.delaySeconds });
      }
    },
  } as unknown as Queue;
  return {
    binding,
    messages,
    /** Removes and returns every message queued so far. */
    take(): QueuedMessage[] {
      return messages.splice(0, messages.length);
    },
    ofType(type: string): QueuedMessage[] {
      return messages.filter((message) => (message.body as { type?: string }).type === type);
    },
  };
}

/** `base` (the test env by default) with its send queue replaced by `queue`. */
export function withQueue(queue: Queue, base: Env = env): Env {
  return { ...base, SEND_QUEUE: queue } as Env;
}
