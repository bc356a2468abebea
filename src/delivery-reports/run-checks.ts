import { mapWithConcurrency } from '../concurrency';
import type { Config } from '../config';
import { type CheckTarget, readCheckTarget, recordStatusCheckStatements } from '../db/status-checks';
import { errorName, logError, logInfo } from '../log';
import { type ProviderPacing, providerPacing } from '../pacing/provider-pacing';
import { selectProvider } from '../providers/select-provider';
import type { SmsProvider, StatusOutcome } from '../providers/sms-provider';
import { type StatusCheck, statusCheck } from '../queue/messages';
import { enqueueWrittenEvents } from '../webhooks/enqueue-events';
import { planAfterCheck } from './check-policy';

/** How long a check waits when D1 or the queue failed under it. */
const FAULT_RETRY_SECONDS = 30;

/**
 * Runs the `status_check` messages of one queue batch: asks the provider what became of each sent
 * SMS, records the answer, moves the request to `delivered` or `failed`, and schedules the next
 * check while the answer is not final. Every check takes a slot of the provider's pacing budget
 * first, since checks and sends count against one account limit.
 */
export async function handleStatusChecks(
  items: ReadonlyArray<{ message: Message<unknown>; body: StatusCheck }>,
  env: Env,
  config: Config,
  pacing: ProviderPacing = providerPacing(env, config),
): Promise<void> {
  if (items.length === 0) return;
  const choice = selectProvider(config, env.DB);
  const source = 'provider' in choice ? choice.provider : null;
  await mapWithConcurrency(items, config.provider.concurrency, (item) => runCheck(item.message, item.body, env, config, source, pacing));
}

async function runCheck(
  message: Message<unknown>,
  body: StatusCheck,
  env: Env,
  config: Config,
  source: SmsProvider | null,
  pacing: ProviderPacing,
): Promise<void> {
  const { requestId, check } = body;
  try {
    const target = await readCheckTarget(env.DB, requestId, check);
    const skip = reasonToSkip(target, source);
    if (skip) {
      logInfo('status_check.skipped', { requestId, check, reason: skip });
      message.ack();
      return;
    }
    const slot = await pacing.acquireProviderSlot('status_check');
    if (!slot.granted) {
      message.retry({ delaySeconds: Math.max(1, Math.ceil(slot.retryAfterSeconds)) });
      return;
    }

    const startedAt = Date.now();
    let outcome: StatusOutcome;
    try {
      outcome = await source!.messageStatus(target!.provider_message_id!);
    } catch (error) {
      outcome = { kind: 'transient', httpStatus: null, errorCode: 'provider_error', message: errorName(error) };
    }
    const finishedAt = Date.now();
    const plan = planAfterCheck(outcome, check, config.deliveryChecks);

    // The follow-up goes out before this check is recorded: if recording fails, the message is
    // retried and the follow-up's own check number keeps the chain from being counted twice.
    if (plan.nextCheckSeconds !== null) {
      await env.SEND_QUEUE.send(statusCheck(requestId, check + 1), { delaySeconds: plan.nextCheckSeconds });
    }
    const recorded = await env.DB.batch(
      recordStatusCheckStatements(env.DB, {
        requestId,
        check,
        startedAt,
        finishedAt,
        httpStatus: outcome.httpStatus,
        providerStatus: outcome.kind === 'report' ? outcome.status : null,
        deliveredAt: outcome.kind === 'report' ? outcome.deliveredAt : null,
        plan,
      }),
    );
    await enqueueWrittenEvents(env, recorded);
    const log = plan.errorCode === 'provider_unauthorized' ? logError : logInfo;
    log('status_check.done', {
      requestId,
      check,
      result: plan.result,
      deliveryStatus: plan.deliveryStatus,
      httpStatus: outcome.httpStatus,
      errorCode: plan.errorCode,
      nextCheckSeconds: plan.nextCheckSeconds,
      durationMs: finishedAt - startedAt,
    });
    message.ack();
  } catch (error) {
    logError('status_check.failed', { requestId, check, error: errorName(error) });
    message.retry({ delaySeconds: FAULT_RETRY_SECONDS });
  }
}

function reasonToSkip(target: CheckTarget | null, source: SmsProvider | null): string | null {
  if (!target) return 'request_gone';
  if (!target.provider_message_id) return 'no_message_id';
  if (target.already_checked) return 'duplicate';
  if (target.delivery_status === 'delivered' || target.delivery_status === 'failed') return 'already_final';
  if (!source) return 'provider_misconfigured';
  return null;
}
