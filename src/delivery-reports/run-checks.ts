import { mapWithConcurrency } from '../concurrency';
import type { Config } from '../config';
import { PROVIDER_NAMES, type ProviderName, providerOrder } from '../config-providers';
import { type CheckTarget, fallBackToSmsStatement, readCheckTarget, recordStatusCheckStatements } from '../db/status-checks';
import { errorName, logError, logInfo } from '../log';
import { type ProviderPacing, providerPacing } from '../pacing/provider-pacing';
import { providerByName } from '../providers/select-provider';
import type { SmsProvider, StatusOutcome } from '../providers/sms-provider';
import { type StatusCheck, sendJob, statusCheck } from '../queue/messages';
import { enqueueWrittenEvents } from '../webhooks/enqueue-events';
import { planAfterCheck } from './check-policy';

/** How long a check waits when D1 or the queue failed under it. */
const FAULT_RETRY_SECONDS = 30;

/**
 * Runs the `status_check` messages of one queue batch: asks the provider that sent each message
 * what became of it, records the answer, moves the request to `delivered` or `failed`, and
 * schedules the next check while the answer is not final. Every check takes a slot of that
 * provider's pacing budget first, since checks and sends count against one account limit.
 * `pacing`, when given, serves every provider (tests).
 */
export async function handleStatusChecks(
  items: ReadonlyArray<{ message: Message<unknown>; body: StatusCheck }>,
  env: Env,
  config: Config,
  pacing?: ProviderPacing,
): Promise<void> {
  if (items.length === 0) return;
  const sources = new Map<ProviderName, { source: SmsProvider | null; pacing: ProviderPacing }>();
  const sourceOf = (name: ProviderName) => {
    if (!sources.has(name)) {
      const choice = providerByName(name, config, env.DB);
      sources.set(name, { source: 'provider' in choice ? choice.provider : null, pacing: pacing ?? providerPacing(env, config, undefined, name) });
    }
    return sources.get(name)!;
  };
  await mapWithConcurrency(items, config.provider.concurrency, (item) => runCheck(item.message, item.body, env, config, sourceOf));
}

/** The provider that sent, or (for messages sent before that was recorded) the deployment's first. */
function senderOf(target: CheckTarget | null, config: Config): ProviderName {
  const named = PROVIDER_NAMES.find((name) => name === target?.sent_provider);
  return named ?? providerOrder(config)[0]!;
}

async function runCheck(
  message: Message<unknown>,
  body: StatusCheck,
  env: Env,
  config: Config,
  sourceOf: (name: ProviderName) => { source: SmsProvider | null; pacing: ProviderPacing },
): Promise<void> {
  const { requestId, check } = body;
  try {
    const target = await readCheckTarget(env.DB, requestId, check);
    const { source, pacing } = sourceOf(senderOf(target, config));
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
    const fallBack = fallsBackToSms(target!, outcome);
    const planned = planAfterCheck(outcome, check, config.deliveryChecks);
    // Falling back, the WhatsApp message's report ends here and the request waits for its SMS.
    const plan = fallBack ? { ...planned, deliveryStatus: 'pending' as const, nextCheckSeconds: null } : planned;

    // The follow-up goes out before this check is recorded: if recording fails, the message is
    // retried and the follow-up's own check number keeps the chain from being counted twice.
    if (plan.nextCheckSeconds !== null) {
      await env.SEND_QUEUE.send(statusCheck(requestId, check + 1), { delaySeconds: plan.nextCheckSeconds });
    }
    const recorded = await env.DB.batch([
      ...recordStatusCheckStatements(env.DB, {
        requestId,
        check,
        startedAt,
        finishedAt,
        httpStatus: outcome.httpStatus,
        providerStatus: outcome.kind === 'report' ? outcome.status : null,
        deliveredAt: outcome.kind === 'report' ? outcome.deliveredAt : null,
        plan,
      }),
      ...(fallBack ? [fallBackToSmsStatement(env.DB, { requestId, now: finishedAt })] : []),
    ]);
    await enqueueWrittenEvents(env, recorded);
    if (fallBack) {
      // Lost, it is recovered by the sweeper, which re-enqueues queued requests left untouched.
      await env.SEND_QUEUE.send(sendJob(requestId));
      logInfo('status_check.sms_fallback', { requestId, check, providerStatus: outcome.kind === 'report' ? outcome.status : outcome.errorCode });
    }
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

/** An `auto` request sent by WhatsApp whose message was not delivered by the first check (its deadline). */
function fallsBackToSms(target: CheckTarget, outcome: StatusOutcome): boolean {
  if (target.channel !== 'auto' || target.sent_channel !== 'whatsapp' || target.sms_fallback_at !== null || target.status !== 'sent') return false;
  return !(outcome.kind === 'report' && outcome.status === 'delivered');
}

function reasonToSkip(target: CheckTarget | null, source: SmsProvider | null): string | null {
  if (!target) return 'request_gone';
  if (!target.provider_message_id) return 'no_message_id';
  if (target.already_checked) return 'duplicate';
  if (target.delivery_status === 'delivered' || target.delivery_status === 'failed') return 'already_final';
  if (!source) return 'provider_misconfigured';
  return null;
}
