import { ConfigError, loadConfig } from '../config';
import { logError } from '../log';
import { handleDeadLetterBatch } from './dead-letter-batch';
import { handleSendBatch } from './send-batch';

/** The dead-letter queue is recognised by name, so renamed deployments keep working. */
export function isDeadLetterQueue(queueName: string): boolean {
  return queueName.endsWith('-dlq');
}

export async function handleQueue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  if (isDeadLetterQueue(batch.queue)) return handleDeadLetterBatch(batch, env);
  let config;
  try {
    config = loadConfig(env);
  } catch (error) {
    // Nothing can be sent correctly with a broken config; keep the jobs until it is fixed.
    logError('config.invalid', { problems: error instanceof ConfigError ? error.problems.join('; ') : String(error) });
    batch.retryAll({ delaySeconds: 60 });
    return;
  }
  return handleSendBatch(batch, env, config);
}
