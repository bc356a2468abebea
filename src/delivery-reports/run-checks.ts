import { mapWithConcurrency } from '../concurrency';
import type { Config } from '../config';
import type { ProviderName } from '../config-providers';
import { errorName, logError } from '../log';
import { type ProviderPacing, providerPacing } from '../pacing/provider-pacing';
import { providerByName } from '../providers/select-provider';
import type { SmsProvider } from '../providers/sms-provider';
import { type StatusCheck, type StatusChecks, statusCheck } from '../queue/messages';
import { type CheckOrder, type CheckVerdict, FAULT_RETRY_SECONDS, runCheck, type SourceOf } from './run-check';

/** A queue message carrying status checks: one (`status_check`) or a batch's first ones (`status_checks`). */
export interface CheckMessage {
  message: Message<unknown>;
  body: StatusCheck | StatusChecks;
}

/**
 * Runs the status checks of one queue batch, whichever message carried them, at most
 * `provider.concurrency` at once, then settles each message by what became of its checks.
 * `pacing`, when given, serves every provider (tests).
 */
export async function handleStatusChecks(items: readonly CheckMessage[], env: Env, config: Config, pacing?: ProviderPacing): Promise<void> {
  if (items.length === 0) return;
  const sources = new Map<ProviderName, { source: SmsProvider | null; pacing: ProviderPacing }>();
  const sourceOf: SourceOf = (name) => {
    if (!sources.has(name)) {
      const choice = providerByName(name, config, env.DB);
      sources.set(name, { source: 'provider' in choice ? choice.provider : null, pacing: pacing ?? providerPacing(env, config, undefined, name) });
    }
    return sources.get(name)!;
  };
  const runs = items.flatMap((item) => ordersOf(item.body).map((order) => ({ item, order })));
  const verdicts = await mapWithConcurrency(runs, config.provider.concurrency, ({ order }) => runCheck(order, env, config, sourceOf));
  const results = new Map<CheckMessage, Array<{ order: CheckOrder; verdict: CheckVerdict }>>();
  runs.forEach(({ item, order }, index) => {
    const ofItem = results.get(item) ?? [];
    ofItem.push({ order, verdict: verdicts[index]! });
    results.set(item, ofItem);
  });
  await Promise.all(items.map((item) => settle(item, results.get(item)!, env)));
}

function ordersOf(body: StatusCheck | StatusChecks): CheckOrder[] {
  return body.type === 'status_check' ? [{ requestId: body.requestId, check: body.check }] : body.checks;
}

/**
 * A single check's message is acked or retried as its check asks. A batched message is acked once
 * each of its checks is done or back on the queue as a `status_check` of its own, with its delay;
 * if that enqueue fails the whole message is retried, and its checks already recorded are then
 * skipped (`duplicate`), so no provider is asked twice.
 */
async function settle(item: CheckMessage, results: ReadonlyArray<{ order: CheckOrder; verdict: CheckVerdict }>, env: Env): Promise<void> {
  const { message, body } = item;
  if (body.type === 'status_check') {
    const verdict = results[0]!.verdict;
    if (verdict.kind === 'retry') message.retry({ delaySeconds: verdict.delaySeconds });
    else message.ack();
    return;
  }
  const again = results.flatMap(({ order, verdict }) =>
    verdict.kind === 'retry' ? [{ body: statusCheck(order.requestId, order.check), delaySeconds: verdict.delaySeconds }] : [],
  );
  if (again.length > 0) {
    try {
      await env.SEND_QUEUE.sendBatch(again);
    } catch (error) {
      logError('status_check.requeue_failed', { messageId: message.id, checks: again.length, error: errorName(error) });
      message.retry({ delaySeconds: FAULT_RETRY_SECONDS });
      return;
    }
  }
  message.ack();
}
