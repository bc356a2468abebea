import { type CheckMessage, handleStatusChecks } from '../delivery-reports/run-checks';
import { type RecordAttempts, type ResendFanout, type SendJob, WorkMessage } from '../queue/messages';
import { handleResendFanouts } from '../resend/fanout';
import { configOrRetryBatch } from './batch-config';
import { handleRecordAttempts } from './record-attempts';
import { handleDeadLetterBatch } from './record-dead-letters';
import { deadLetterUnreadable } from './reject-to-dead-letters';
import { handleSendJobs } from './send-batch';
import { handleWebhookBatch } from './webhook-batch';
import { handleWebhookDeadLetters } from './webhook-dead-letters';

/** The dead-letter queue is recognised by name, so renamed deployments keep working. */
export function isDeadLetterQueue(queueName: string): boolean {
  return queueName.endsWith('-dlq');
}

/** The webhook queue (`otp-webhooks`) and its dead-letter queue (`otp-webhooks-dlq`), likewise by name. */
export function webhookQueueKind(queueName: string): 'work' | 'dead_letters' | null {
  if (queueName.endsWith('webhooks')) return 'work';
  if (queueName.endsWith('webhooks-dlq')) return 'dead_letters';
  return null;
}

type Parsed<T> = Array<{ message: Message<unknown>; body: T }>;

export async function handleQueue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const webhooks = webhookQueueKind(batch.queue);
  if (webhooks === 'work') return handleWebhookBatch(batch, env);
  if (webhooks === 'dead_letters') return handleWebhookDeadLetters(batch, env);
  if (isDeadLetterQueue(batch.queue)) return handleDeadLetterBatch(batch, env);
  const config = configOrRetryBatch(batch, env);
  if (!config) return;

  const sends: Parsed<SendJob> = [];
  const records: Parsed<RecordAttempts> = [];
  const checks: CheckMessage[] = [];
  const fanouts: Parsed<ResendFanout> = [];
  for (const message of batch.messages) {
    const parsed = WorkMessage.safeParse(message.body);
    if (!parsed.success) {
      await deadLetterUnreadable(env, message, parsed.error.issues[0]?.message ?? 'invalid body');
      continue;
    }
    switch (parsed.data.type) {
      case 'send':
        sends.push({ message, body: parsed.data });
        break;
      case 'record_attempts':
        records.push({ message, body: parsed.data });
        break;
      case 'status_check':
      case 'status_checks':
        checks.push({ message, body: parsed.data });
        break;
      case 'resend_fanout':
        fanouts.push({ message, body: parsed.data });
        break;
    }
  }
  await Promise.all([
    handleSendJobs(sends, env, config),
    handleRecordAttempts(records, env, config),
    handleStatusChecks(checks, env, config),
    handleResendFanouts(fanouts, env, config),
  ]);
}
