import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { createExecutionContext, createMessageBatch } from 'cloudflare:test';
import worker from '../src/index';
import { sendJob } from '../src/queue/messages';
import { PROVIDER_URL, attemptRows, requestRow, seedRequest, startMessagingEnv } from './support/fixtures';
import { recordingQueue, withFaultyBatch } from './support/faults';
import { json, interceptOrigin } from './support/outbound';
import { deliver, deliverSendJobs } from './support/queue';
import { fetchWithEnv } from './support/worker';

/** A provider with StartMessaging's idempotency: one SMS per key, repeats answered from memory. */
function idempotentProvider(respond: (callIndex: number) => Response | null = () => null) {
  const keysSent = new Set<string>();
  const calls = interceptOrigin(PROVIDER_URL, (call, index) => {
    const failure = respond(index);
    if (failure) return failure;
    keysSent.add(call.headers['idempotency-key']!);
    return json(201, { success: true, data: { messageId: `msg-${call.headers['idempotency-key']}` } });
  });
  return { calls, sms: () => keysSent.size };
}

const quietly = () => [vi.spyOn(console, 'error').mockImplementation(() => {}), vi.spyOn(console, 'warn').mockImplementation(() => {})];

async function expireLease(id: string) {
  await env.DB.prepare('UPDATE otp_requests SET lease_until = ? WHERE id = ?').bind(Date.now() - 1, id).run();
}

describe('D1 fails while the consumer records an outcome', () => {
  it('the outcome travels through the queue and is recorded without calling the provider again', async () => {
    const spies = quietly();
    const { id } = await seedRequest();
    const provider = idempotentProvider();
    const queue = recordingQueue();
    // Batch call 1 claims the request; call 2 records the outcome: that one fails.
    const testEnv = { ...startMessagingEnv(), DB: withFaultyBatch(env.DB, (n) => (n === 2 ? 'fail' : 'pass')), SEND_QUEUE: queue.queue } as Env;
    const { ids, result } = await deliverSendJobs(testEnv, [id]);
    expect(result.explicitAcks).toEqual(ids);
    expect(provider.calls).toHaveLength(1);
    expect(queue.sent).toEqual([{ body: expect.objectContaining({ type: 'record_attempts' }), delaySeconds: undefined }]);
    expect(JSON.stringify(queue.sent)).not.toContain((await requestRow(id)).phone_number.slice(1));

    // The record message arrives and is written; the provider is not called again.
    const recorded = await deliver(startMessagingEnv(), 'otp-send', [queue.sent[0]!.body]);
    expect(recorded.result.explicitAcks).toEqual(recorded.ids);
    expect(provider.calls).toHaveLength(1);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', provider_message_id: `msg-otpd-${id}` });
    expect(await attemptRows(id)).toEqual([expect.objectContaining({ outcome: 'sent', attempt_number: 1 })]);
    spies.forEach((spy) => spy.mockRestore());
  });

  it('a deferred retry is put back on the queue with its delay once recorded', async () => {
    const spies = quietly();
    const { id } = await seedRequest();
    idempotentProvider(() => json(503, {}));
    const queue = recordingQueue();
    const testEnv = { ...startMessagingEnv(), DB: withFaultyBatch(env.DB, (n) => (n === 2 ? 'fail' : 'pass')), SEND_QUEUE: queue.queue } as Env;
    await deliverSendJobs(testEnv, [id]);
    const second = recordingQueue();
    await deliver({ ...startMessagingEnv(), SEND_QUEUE: second.queue } as Env, 'otp-send', [queue.sent[0]!.body]);
    expect(second.sent).toEqual([{ body: sendJob(id), delaySeconds: expect.any(Number) }]);
    expect(second.sent[0]!.delaySeconds).toBeGreaterThanOrEqual(1);
    expect(await requestRow(id)).toMatchObject({ status: 'queued', last_error_code: 'provider_unavailable' });
    spies.forEach((spy) => spy.mockRestore());
  });

  it('when the queue fails too, the job is retried after its lease and the repeat call sends no second SMS', async () => {
    const spies = quietly();
    const { id } = await seedRequest();
    const provider = idempotentProvider();
    const queue = recordingQueue({ fail: true });
    const testEnv = { ...startMessagingEnv(), DB: withFaultyBatch(env.DB, (n) => (n === 2 ? 'fail' : 'pass')), SEND_QUEUE: queue.queue } as Env;
    const { ids, result } = await deliverSendJobs(testEnv, [id]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(ids);
    expect(result.retryMessages[0]!.delaySeconds).toBeGreaterThanOrEqual(30);

    await expireLease(id);
    await deliverSendJobs(startMessagingEnv(), [id], 2);
    expect(provider.calls).toHaveLength(2);
    expect(provider.calls[0]!.body).toEqual(provider.calls[1]!.body);
    expect(provider.sms()).toBe(1);
    expect((await requestRow(id)).status).toBe('sent');
    spies.forEach((spy) => spy.mockRestore());
  });

  it('D1 failing at the claim retries the job without a provider call', async () => {
    const spies = quietly();
    const { id } = await seedRequest();
    const provider = idempotentProvider();
    const testEnv = { ...startMessagingEnv(), DB: withFaultyBatch(env.DB, () => 'fail') } as Env;
    const { ids, result } = await deliverSendJobs(testEnv, [id]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(ids);
    expect(provider.calls).toHaveLength(0);
    expect((await requestRow(id)).status).toBe('queued');
    spies.forEach((spy) => spy.mockRestore());
  });
});

describe('the consumer dies mid-batch', () => {
  it('after the provider calls but before recording: redelivery sends no second SMS and every request ends sent', async () => {
    const requests = await Promise.all([seedRequest(), seedRequest(), seedRequest()]);
    const provider = idempotentProvider();
    // The final write never answers: the invocation is abandoned with nothing acked.
    const testEnv = { ...startMessagingEnv(), DB: withFaultyBatch(env.DB, (n) => (n === 2 ? 'hang' : 'pass')) } as Env;
    const batch = createMessageBatch(
      'otp-send',
      requests.map((request, index) => ({ id: `crash-${index}`, timestamp: Date.now(), attempts: 1, body: sendJob(request.id) })),
    );
    void worker.queue(batch, testEnv, createExecutionContext());
    for (let i = 0; i < 100 && provider.calls.length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(provider.calls).toHaveLength(3);

    // The runtime redelivers the whole batch; before the leases lapse the copies wait.
    const early = await deliverSendJobs(startMessagingEnv(), requests.map((r) => r.id), 2);
    expect(early.result.retryMessages).toHaveLength(3);
    expect(provider.calls).toHaveLength(3);

    for (const request of requests) await expireLease(request.id);
    await deliverSendJobs(startMessagingEnv(), requests.map((r) => r.id), 3);
    expect(provider.calls).toHaveLength(6);
    expect(provider.sms()).toBe(3);
    for (const request of requests) expect((await requestRow(request.id)).status).toBe('sent');
  });
});

describe('D1 unreachable on the API', () => {
  /** The real database, except that every statement run fails as D1 does when it is unreachable. */
  function unreachableDb(db: D1Database): D1Database {
    const fail = () => Promise.reject(new Error('D1_ERROR: Network connection lost.'));
    return new Proxy(db, {
      get(target, property) {
        if (property === 'batch') return fail;
        if (property === 'prepare') {
          return (query: string) => {
            const statement = target.prepare(query);
            const failing = { first: fail, all: fail, run: fail, raw: fail, bind: () => failing };
            return statement && failing;
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as D1Database;
  }

  it.each([
    ['GET /v1/otp/:id', () => new Request('https://otp.test/v1/otp/otp_AAAAAAAAAAAAAAAAAAAAAA')],
    [
      'POST /v1/otp with an Idempotency-Key',
      () =>
        new Request('https://otp.test/v1/otp', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() },
          body: JSON.stringify({ phoneNumber: '+447700900777' }),
        }),
    ],
  ])('%s answers 503 service_unavailable with Retry-After, not 500', async (_name, request) => {
    const spies = quietly();
    const response = await fetchWithEnv(request(), { ...env, DB: unreachableDb(env.DB) } as Env);
    spies.forEach((spy) => spy.mockRestore());
    expect(response.status).toBe(503);
    expect(response.headers.get('Retry-After')).toBe('5');
    expect((await response.json<{ error: { code: string } }>()).error.code).toBe('service_unavailable');
  });
});
