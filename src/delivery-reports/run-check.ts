import type { Config } from '../config';
import { PROVIDER_NAMES, type ProviderName, providerOrder } from '../config-providers';
import { type CheckTarget, fallBackToSmsStatement, readCheckTarget, recordStatusCheckStatements } from '../db/status-checks';
import { errorName, logError, logInfo } from '../log';
import type { ProviderPacing } from '../pacing/provider-pacing';
import type { SmsProvider, StatusOutcome } from '../providers/sms-provider';
import { sendJob, statusCheck } from '../queue/messages';
import { enqueueWrittenEvents } from '../webhooks/enqueue-events';
import { planAfterCheck } from './check-policy';

/** How long a check waits when D1 or the queue failed under it. */
export const FAULT_RETRY_SECONDS = 30;

/** One status check: which request, and its number in the request's chain of checks. */
export interface CheckOrder {
  requestId: string;
  check: number;
}

/** What becomes of a check once it has run: finished (asked, recorded, or skipped), or to run again later. */
export type CheckVerdict = { kind: 'done' } | { kind: 'retry'; delaySeconds: number };

/** Each provider's client (null: not configured) and its pacing, made once per queue batch. */
export type SourceOf = (name: ProviderName) => { source: SmsProvider | null; pacing: ProviderPacing };

const DONE: CheckVerdict = { kind: 'done' };

/**
 * Runs one status check: takes a slot of the sending provider's pacing budget, asks the provider
 * what became of the message, records the answer, schedules the next check while the answer is
 * not final, and sends an `auto` request's undelivered WhatsApp message on by SMS. It acks
 * nothing itself: the caller settles the queue message the check came in.
 */
export async function runCheck(order: CheckOrder, env: Env, config: Config, sourceOf: SourceOf): Promise<CheckVerdict> {
  const { requestId, check } = order;
  try {
    const target = await readCheckTarget(env.DB, requestId, check);
    const { source, pacing } = sourceOf(senderOf(target, config));
    const skip = reasonToSkip(target, source);
    if (skip) {
      logInfo('status_check.skipped', { requestId, check, reason: skip });
      return DONE;
    }
    const slot = await pacing.acquireProviderSlot('status_check');
    if (!slot.granted) return { kind: 'retry', delaySeconds: Math.max(1, Math.ceil(slot.retryAfterSeconds)) };

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

    // The follow-up goes out before this check is recorded: if recording fails, the check is
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
    return DONE;
  } catch (error) {
    logError('status_check.failed', { requestId, check, error: errorName(error) });
    return { kind: 'retry', delaySeconds: FAULT_RETRY_SECONDS };
  }
}

/** The provider that sent, or (for messages sent before that was recorded) the deployment's first. */
function senderOf(target: CheckTarget | null, config: Config): ProviderName {
  const named = PROVIDER_NAMES.find((name) => name === target?.sent_provider);
  return named ?? providerOrder(config)[0]!;
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
