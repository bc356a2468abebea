import type { Config } from '../config';
import { appChangeIfChangedStatement } from '../db/app-changes';
import type { ClaimedEvent, WebhookAttemptRecord } from '../db/webhook-delivery';
import { recordWebhookAttemptStatements } from '../db/webhook-delivery';
import { disableWebhookStatement, EVENT_BITS, type WebhookRow } from '../db/webhooks';
import { eventBody } from './event-payload';
import { postEvent } from './post-event';
import { nextStep } from './retry-schedule';
import { signatureHeader, signingSecrets } from './signing';
import { checkWebhookUrl } from './webhook-url';

export interface DeliveryClock {
  now(): number;
  random(): number;
}
export const systemDeliveryClock: DeliveryClock = { now: () => Date.now(), random: () => Math.random() };

/** The change log's actor for what the delivery itself changes (a webhook disabled on 410 Gone). */
export const DELIVERY_ACTOR = 'webhook-delivery';

export interface AttemptResult {
  record: WebhookAttemptRecord;
  /** The receiver answered 410 Gone: the webhook is disabled in the same batch as this attempt. */
  gone: boolean;
}

type Failure = { httpStatus: number | null; errorCode: string; message: string };

/**
 * One attempt of a claimed event. Nothing is posted when the app's webhook is gone, disabled or no
 * longer takes this type (the event fails), or when its URL fails the rules now or no signing key
 * is set (the attempt fails and is retried: an operator may fix either meanwhile).
 */
export async function attemptDelivery(event: ClaimedEvent, webhook: WebhookRow | null, config: Config, clock: DeliveryClock): Promise<AttemptResult> {
  const startedAt = clock.now();
  const finish = (outcome: 'delivered' | 'failed', failure: Failure | null, httpStatus: number | null = failure?.httpStatus ?? null): AttemptResult => ({
    record: base(event, startedAt, clock.now(), outcome, httpStatus, failure, null),
    gone: false,
  });
  const retryOrFail = (failure: Failure): AttemptResult => {
    const finishedAt = clock.now();
    const step = nextStep(event, finishedAt, () => clock.random());
    return 'giveUp' in step
      ? { record: base(event, startedAt, finishedAt, 'failed', failure.httpStatus, failure, null), gone: false }
      : { record: base(event, startedAt, finishedAt, 'retry', failure.httpStatus, failure, step.retryInSeconds), gone: false };
  };

  if (!webhook || webhook.url === null) return finish('failed', { httpStatus: null, errorCode: 'webhook_removed', message: 'the app has no webhook now' });
  if (webhook.disabled_at !== null) {
    return finish('failed', { httpStatus: null, errorCode: 'webhook_disabled', message: 'the webhook is disabled (410 Gone)' });
  }
  if ((webhook.event_mask & EVENT_BITS[event.type]) === 0) {
    return finish('failed', { httpStatus: null, errorCode: 'event_not_subscribed', message: `the webhook no longer takes ${event.type}` });
  }
  const url = checkWebhookUrl(webhook.url, config.environment);
  if (!url.ok) return retryOrFail({ httpStatus: null, errorCode: 'url_refused', message: `${url.reason}: the URL ${url.message}` });
  const secretKey = config.secrets.WEBHOOK_SECRET_KEY;
  if (!secretKey) return retryOrFail({ httpStatus: null, errorCode: 'secret_missing', message: 'WEBHOOK_SECRET_KEY is not set' });

  const body = eventBody(event, webhook.include_phone_number === 1);
  const timestamp = Math.floor(startedAt / 1000);
  const headers = {
    'Content-Type': 'application/json',
    'User-Agent': 'otp-dispatcher-webhooks/1',
    'webhook-id': event.id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': await signatureHeader(await signingSecrets(secretKey, webhook, startedAt), event.id, timestamp, body),
  };
  const posted = await postEvent(url.url, headers, body, config.webhooks.timeoutMs);
  if (posted.kind === 'delivered') return finish('delivered', null, posted.httpStatus);
  if (posted.kind === 'gone') {
    return { ...finish('failed', { httpStatus: 410, errorCode: 'gone', message: 'the receiver answered 410 Gone; the webhook is disabled' }), gone: true };
  }
  return retryOrFail(posted);
}

function base(
  event: ClaimedEvent,
  startedAt: number,
  finishedAt: number,
  outcome: WebhookAttemptRecord['outcome'],
  httpStatus: number | null,
  failure: Failure | null,
  retryDelaySeconds: number | null,
): WebhookAttemptRecord {
  return {
    eventId: event.id,
    attemptNumber: event.attempts,
    startedAt,
    finishedAt,
    httpStatus,
    outcome,
    errorCode: failure?.errorCode ?? null,
    errorMessage: failure?.message.slice(0, 300) ?? null,
    retryDelaySeconds,
  };
}

/** Writes the attempt and the event's new state; a 410 also disables the webhook, recorded in the change log. */
export async function recordAttempt(db: D1Database, event: ClaimedEvent, result: AttemptResult): Promise<void> {
  const at = result.record.finishedAt;
  await db.batch([
    ...recordWebhookAttemptStatements(db, result.record),
    ...(result.gone
      ? [
          disableWebhookStatement(db, event.app_id, 'gone', at),
          appChangeIfChangedStatement(db, {
            appId: event.app_id,
            at,
            actor: DELIVERY_ACTOR,
            action: 'webhook.disabled',
            detail: { reason: 'gone', eventId: event.id },
          }),
        ]
      : []),
  ]);
}
