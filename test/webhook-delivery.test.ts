import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { sweep } from '../src/cron/sweeper';
import { webhookStallGraceMs } from '../src/cron/webhook-sweep';
import { WEBHOOK_RETRY } from '../src/webhooks/retry-schedule';
import { makeApp } from './support/apps';
import { recordingQueue as faultyQueue, withFailingBatchOf } from './support/faults';
import { attemptRows, requestRow } from './support/fixtures';
import { deliver } from './support/queue';
import { recordingQueue } from './support/recording-queue';
import { waitFor } from './support/wait';
import {
  attemptRowsOf,
  deliverWebhookJobs,
  deliverWebhookJobsAt,
  eventRows,
  providerAccepting,
  putWebhook,
  RECEIVER_URL,
  receiver,
  sendCode,
  setReceiver,
  takeWebhookJobs,
  verified,
  webhookTestEnv,
} from './support/webhooks';

/** An app with a receiver and one `otp.sent` event waiting to be posted. */
async function pendingEvent(overrides: Record<string, string> = {}) {
  const app = await makeApp();
  const secret = await setReceiver(app.id);
  const setup = webhookTestEnv(overrides);
  providerAccepting();
  const { requestId } = await sendCode(setup.testEnv, app.secretKey);
  await deliver(
    setup.testEnv,
    'otp-send',
    setup.sends.take().map((job) => job.body),
  );
  const [eventId] = takeWebhookJobs(setup.hooks, requestId);
  expect(eventId).toBe(`evt_${requestId.slice(4)}_sent`);
  return { ...setup, app, secret, requestId, eventId: eventId! };
}

async function eventRow(eventId: string) {
  return (await env.DB.prepare('SELECT * FROM webhook_events WHERE id = ?1').bind(eventId).first<Record<string, number | string | null>>())!;
}

describe('a receiver that fails for a while gets the event later', () => {
  it('500, then 200: the job is retried with backoff and jitter, each attempt recorded, and the event delivered once', async () => {
    const { testEnv, secret, eventId } = await pendingEvent();
    const calls = receiver((_call, index) => new Response('busy', { status: index === 0 ? 500 : 200 }));
    const first = await deliverWebhookJobs(testEnv, [eventId]);
    const [retried] = first.result.retryMessages as Array<{ delaySeconds?: number }>;
    // Full jitter: anywhere up to the first step's ceiling.
    expect(retried!.delaySeconds).toBeGreaterThanOrEqual(1);
    expect(retried!.delaySeconds).toBeLessThanOrEqual(WEBHOOK_RETRY.baseSeconds);
    const waiting = await eventRow(eventId);
    expect(waiting).toMatchObject({ state: 'pending', attempts: 1, last_error_code: 'http_error', lease_until: null });

    // The retry comes when it is due; a copy that comes before that is dropped without a post.
    const early = await deliverWebhookJobsAt(testEnv, [eventId], (waiting.next_attempt_at as number) - 60_000);
    expect(early).toMatchObject({ acked: 1, retried: [] });
    expect(calls).toHaveLength(1);
    const due = await deliverWebhookJobsAt(testEnv, [eventId], waiting.next_attempt_at as number);
    expect(due).toMatchObject({ acked: 1, retried: [] });

    expect(calls).toHaveLength(2);
    for (const call of calls) expect(verified(call, secret)).toMatchObject({ id: eventId, type: 'otp.sent' });
    expect(await eventRow(eventId)).toMatchObject({ state: 'delivered', attempts: 2, delivered_at: expect.any(Number) });
    expect(await attemptRowsOf(eventId)).toEqual([
      expect.objectContaining({ attempt_number: 1, outcome: 'retry', http_status: 500, error_code: 'http_error', retry_delay_seconds: retried!.delaySeconds }),
      expect.objectContaining({ attempt_number: 2, outcome: 'delivered', http_status: 200, error_code: null, retry_delay_seconds: null }),
    ]);
    // Delivered: another copy of its job posts nothing.
    expect((await deliverWebhookJobs(testEnv, [eventId])).result.explicitAcks).toHaveLength(1);
    expect(calls).toHaveLength(2);
  });

  it('a receiver that never answers: the attempt times out and is retried', async () => {
    const { testEnv, eventId } = await pendingEvent({ WEBHOOK_TIMEOUT_MS: '100' });
    const calls = receiver(() => new Promise<Response>(() => {}));
    const { result } = await deliverWebhookJobs(testEnv, [eventId]);
    expect(calls).toHaveLength(1);
    expect(result.retryMessages).toHaveLength(1);
    expect(await attemptRowsOf(eventId)).toEqual([expect.objectContaining({ outcome: 'retry', http_status: null, error_code: 'timeout' })]);
  });

  it('a redirect is not followed: it is a failed attempt', async () => {
    const { testEnv, eventId } = await pendingEvent();
    receiver(() => new Response(null, { status: 302, headers: { Location: 'https://elsewhere.test/' } }));
    await deliverWebhookJobs(testEnv, [eventId]);
    expect(await attemptRowsOf(eventId)).toEqual([expect.objectContaining({ outcome: 'retry', http_status: 302, error_code: 'http_error' })]);
  });

  it('retries stop a day after the event: the last failure ends it failed', async () => {
    const { testEnv, eventId } = await pendingEvent();
    receiver(() => new Response(null, { status: 503 }));
    const { retry_until: retryUntil } = await eventRow(eventId);
    // The schedule never asks for a wait past the end of the window.
    const near = await deliverWebhookJobsAt(testEnv, [eventId], (retryUntil as number) - 10_000, () => 0.999);
    expect(near.retried).toEqual([expect.objectContaining({ delaySeconds: 10 })]);
    const last = await deliverWebhookJobsAt(testEnv, [eventId], retryUntil as number);
    expect(last).toMatchObject({ acked: 1, retried: [] });
    expect(await eventRow(eventId)).toMatchObject({ state: 'failed', attempts: 2, last_error_code: 'http_error' });
    expect((await attemptRowsOf(eventId)).map((row) => row.outcome)).toEqual(['retry', 'failed']);
  });

  it('410 Gone fails the event and disables the webhook (in the change log); no event is written until it is set again', async () => {
    const { testEnv, hooks, sends, app, eventId } = await pendingEvent();
    receiver(() => new Response(null, { status: 410 }));
    const { result } = await deliverWebhookJobs(testEnv, [eventId]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await eventRow(eventId)).toMatchObject({ state: 'failed', last_error_code: 'gone' });
    const change = await env.DB.prepare("SELECT actor, detail_json FROM app_changes WHERE app_id = ?1 AND action = 'webhook.disabled'").bind(app.id).first();
    expect(change).toEqual({ actor: 'webhook-delivery', detail_json: JSON.stringify({ reason: 'gone', eventId }) });

    const next = await sendCode(testEnv, app.secretKey);
    await deliver(
      testEnv,
      'otp-send',
      sends.take().map((job) => job.body),
    );
    expect(await eventRows(next.requestId)).toEqual([]);
    expect(takeWebhookJobs(hooks, next.requestId)).toEqual([]);

    const again = await putWebhook(app.id, { url: RECEIVER_URL });
    expect(again.status).toBe(200);
    expect(again.body.webhook.disabledAt).toBeNull();
  });

  it('two copies of one job: one posts; the other, in the same batch or while the post is under way, waits for the lease', async () => {
    const { testEnv, eventId } = await pendingEvent();
    let answer: (response: Response) => void = () => {};
    const calls = receiver(() => new Promise<Response>((resolve) => (answer = resolve)));
    const inFlight = deliverWebhookJobs(testEnv, [eventId, eventId]);
    await waitFor(() => calls.length === 1, 'the first post');
    // Another consumer gets a copy meanwhile: the event is leased, so it posts nothing.
    const concurrent = await deliverWebhookJobs(testEnv, [eventId]);
    expect(concurrent.result.retryMessages).toEqual([expect.objectContaining({ delaySeconds: expect.any(Number) })]);
    answer(new Response(null, { status: 200 }));
    const { result } = await inFlight;
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toHaveLength(1);
    // Once delivered, any later copy is acked without a post.
    expect((await deliverWebhookJobs(testEnv, [eventId])).result.explicitAcks).toHaveLength(1);
    expect(calls).toHaveLength(1);
  });

  it('when D1 will not take the attempt, the job is retried once the lease lapses (the receiver deduplicates by webhook-id)', async () => {
    const { testEnv, eventId } = await pendingEvent();
    const calls = receiver();
    const failing = { ...testEnv, DB: withFailingBatchOf(env.DB, /INSERT INTO webhook_attempts/) } as Env;
    const { result } = await deliverWebhookJobs(failing, [eventId]);
    expect(calls).toHaveLength(1);
    expect(result.retryMessages).toEqual([expect.objectContaining({ delaySeconds: expect.any(Number) })]);
    expect(await eventRow(eventId)).toMatchObject({ state: 'pending', lease_until: expect.any(Number) });
    const { lease_until: leaseUntil } = await eventRow(eventId);
    await deliverWebhookJobsAt(testEnv, [eventId], leaseUntil as number);
    expect(calls.map((call) => call.headers['webhook-id'])).toEqual([eventId, eventId]);
    expect(await eventRow(eventId)).toMatchObject({ state: 'delivered', attempts: 2 });
  });
});

describe('OTP delivery never waits for webhooks', () => {
  it('with the webhook queue refusing every send, the SMS is sent and recorded as usual; the sweeper enqueues the event later', async () => {
    const app = await makeApp();
    await setReceiver(app.id);
    const { testEnv, sends } = webhookTestEnv();
    const broken = { ...testEnv, WEBHOOK_QUEUE: faultyQueue({ fail: true }).queue } as Env;
    providerAccepting('msg_unaffected');
    const { requestId } = await sendCode(broken, app.secretKey);
    const { result } = await deliver(
      broken,
      'otp-send',
      sends.take().map((job) => job.body),
    );
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    expect((await requestRow(requestId)).status).toBe('sent');
    expect(await attemptRows(requestId)).toEqual([expect.objectContaining({ outcome: 'sent' })]);
    // Written on the usual path (no deferred record), with its delivery report scheduled.
    expect(sends.messages.map((message) => (message.body as { type: string }).type)).toEqual(['status_checks']);
    const [event] = await eventRows(requestId);
    expect(event).toMatchObject({ type: 'otp.sent', state: 'pending', attempts: 0 });

    // The outbox's other half: a minute later, the sweeper hands it to a working queue.
    const working = recordingQueue();
    const workingEnv = { ...testEnv, WEBHOOK_QUEUE: working.binding } as Env;
    const config = loadConfig(workingEnv);
    const later = (event!.next_attempt_at as number) + webhookStallGraceMs(config);
    await sweep(workingEnv, later, config);
    expect(takeWebhookJobs(working, requestId)).toEqual([event!.id]);
    const calls = receiver();
    await deliverWebhookJobsAt(workingEnv, [event!.id], later);
    expect(calls).toHaveLength(1);
  });

  it('the webhook consumer posts only to receivers: no provider call, no change to any request', async () => {
    const { testEnv, requestId, eventId } = await pendingEvent();
    receiver(() => new Response(null, { status: 500 }));
    const before = await requestRow(requestId);
    await deliverWebhookJobs(testEnv, [eventId]);
    expect(await requestRow(requestId)).toEqual(before);
  });
});

describe('dead letters', () => {
  it('a job the webhook queue gave up on ends its event failed, kept in dead_letters with its request', async () => {
    const { testEnv, requestId, eventId } = await pendingEvent();
    const { result } = await deliver(testEnv, 'otp-webhooks-dlq', [{ type: 'webhook_event', v: 1, eventId }]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await eventRow(eventId)).toMatchObject({ state: 'failed', last_error_code: 'dead_lettered' });
    const letter = await env.DB.prepare('SELECT reason FROM dead_letters WHERE request_id = ?1').bind(requestId).first();
    expect(letter).toEqual({ reason: 'webhook_retries_exhausted' });
  });

  it('an unreadable webhook job is recorded and acked, never retried', async () => {
    const { testEnv } = webhookTestEnv();
    const { ids, result } = await deliver(testEnv, 'otp-webhooks', [{ type: 'webhook_event', v: 1, eventId: 'nope' }]);
    expect(result.explicitAcks).toEqual([ids[0]]);
    expect(await env.DB.prepare('SELECT reason FROM dead_letters WHERE message_id = ?1').bind(ids[0]).first()).toEqual({
      reason: 'unreadable_webhook_message',
    });
  });
});
