/**
 * Fault injection at the binding boundary: the real D1 database or queue, except that chosen
 * calls fail (or never answer), as they can in production.
 */

type Plan = (callNumber: number) => 'pass' | 'fail' | 'hang';

export function withFaultyBatch(db: D1Database, plan: Plan): D1Database & { batchCalls: () => number } {
  let calls = 0;
  return new Proxy(db, {
    get(target, property) {
      if (property === 'batchCalls') return () => calls;
      if (property === 'batch') {
        return async (statements: D1PreparedStatement[]) => {
          calls += 1;
          const action = plan(calls);
          if (action === 'fail') throw new Error('D1_ERROR: injected fault');
          if (action === 'hang') return new Promise(() => {});
          return target.batch(statements);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as D1Database & { batchCalls: () => number };
}

/** A queue binding that records what is sent instead of delivering it, or refuses to. */
export function recordingQueue(options: { fail?: boolean } = {}) {
  const sent: Array<{ body: unknown; delaySeconds?: number }> = [];
  const queue = {
    async send(body: unknown, sendOptions?: QueueSendOptions) {
      if (options.fail) throw new Error('Queue send failed: injected fault');
      sent.push({ body, delaySeconds: sendOptions?.delaySeconds });
    },
    async sendBatch(messages: Iterable<MessageSendRequest>) {
      if (options.fail) throw new Error('Queue send failed: injected fault');
      for (const message of messages) sent.push({ body: message.body, delaySeconds: message.delaySeconds });
    },
  } as unknown as Queue;
  return { queue, sent };
}

/**
 * The real D1 database, except that a batch holding a statement whose SQL matches `pattern`
 * fails as D1 does when it is unreachable: one write fails while everything else works.
 */
export function withFailingBatchOf(db: D1Database, pattern: RegExp): D1Database & { failedBatches: () => number } {
  let failed = 0;
  return new Proxy(db, {
    get(target, property) {
      if (property === 'failedBatches') return () => failed;
      if (property === 'batch') {
        return async (statements: D1PreparedStatement[]) => {
          // The runtime's prepared statements carry their SQL as `statement`.
          if (statements.some((statement) => pattern.test((statement as unknown as { statement: string }).statement))) {
            failed += 1;
            throw new Error('D1_ERROR: injected fault');
          }
          return target.batch(statements);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as D1Database & { failedBatches: () => number };
}
