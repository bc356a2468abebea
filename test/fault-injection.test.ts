import { createExecutionContext, createMessageBatch, env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { forgetCachedKeys } from '../src/apps/authenticate';
import { deadLetterRetryDelaySeconds } from '../src/consumer/record-dead-letters';
import { sweep } from '../src/cron/sweeper';
import { claimRequests, recordAttemptStatements } from '../src/db/delivery-attempts';
import worker from '../src/index';
import { prefixGuardFor } from '../src/limiter/limiter-client';
import { phonePrefix } from '../src/phone';
import { type RecordAttempts, sendJob, statusChecks } from '../src/queue/messages';
import { withKey } from './support/apps';
import { recordingQueue, withFailingBatchOf, withFaultyBatch } from './support/faults';
import { attemptRows, PROVIDER_URL, requestRow, SEND_ROUTE, seedRequest, startMessagingEnv, uniquePhone } from './support/fixtures';
import { storedSendsOfIp } from './support/ip-sends';
import { interceptOrigin, json } from './support/outbound';
import { storedPhoneSends } from './support/phone-sends';
import { deliver, deliverSendJobs } from './support/queue';
import { fetchWithEnv } from './support/worker';

/** A provider with StartMessaging's idempotency: one SMS per key, repeats answered from memory. */
function idempotentProvider(respond: (callIndex: number) => Response | null = () => null) {
  const keysSent = new Set<string>();
  const calls = interceptOrigin(PROVIDER_URL, {
    [SEND_ROUTE]: (call, index) => {
      const failure = respond(index);
      if (failure) return failure;
      keysSent.add(call.headers['idempotency-key']!);
      return json(201, { success: true, data: { messageId: `msg-${call.headers['idempotency-key']}` } });
    },
  });
  return { calls, sms: () => keysSent.size };
}

const quietly = () => [vi.spyOn(console, 'error').mockImplementation(() => {}), vi.spyOn(console, 'warn').mockImplementation(() => {})];

async function expireLease(id: string) {
  await env.DB.prepare('UPDATE otp_requests SET lease_until = ? WHERE id = ?')
    .bind(Date.now() - 1, id)
    .run();
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

describe('D1 fails for longer than the queue retries a recorded outcome', () => {
  /**
   * A provider call whose outcome D1 would not take: the consumer hands it to the queue as a
   * `record_attempts` message, returned here. The request is left `sending`, its lease running.
   */
  async function deferredOutcome(respond?: (callIndex: number) => Response | null) {
    const { id } = await seedRequest();
    const provider = idempotentProvider(respond);
    const queue = recordingQueue();
    const testEnv = { ...startMessagingEnv(), DB: withFaultyBatch(env.DB, (n) => (n === 2 ? 'fail' : 'pass')), SEND_QUEUE: queue.queue } as Env;
    await deliverSendJobs(testEnv, [id]);
    expect(queue.sent).toEqual([{ body: expect.objectContaining({ type: 'record_attempts' }), delaySeconds: undefined }]);
    return { id, provider, body: queue.sent[0]!.body as RecordAttempts };
  }

  /** The dead-letter consumer, with a send queue that keeps what it is given. */
  function deadLetterEnv(overrides: Partial<Env> = {}) {
    const queue = recordingQueue();
    return { queue, testEnv: { ...startMessagingEnv(), SEND_QUEUE: queue.queue, ...overrides } as Env };
  }

  async function deadLetters(requestId: string) {
    const { results } = await env.DB.prepare('SELECT message_id, reason FROM dead_letters WHERE request_id = ?').bind(requestId).all();
    return results;
  }

  it('the dead-letter consumer writes the outcome: the attempt, the request sent with its message id, a dead letter', async () => {
    const spies = quietly();
    const { id, provider, body } = await deferredOutcome();
    // On otp-send the write fails to the last retry (max_retries = 100); the queue then dead-letters it.
    const lastTry = await deliver({ ...startMessagingEnv(), DB: withFaultyBatch(env.DB, () => 'fail') } as Env, 'otp-send', [body], 101);
    expect(lastTry.result.retryMessages.map((m) => m.msgId)).toEqual(lastTry.ids);
    expect(await attemptRows(id)).toEqual([]);

    const { queue, testEnv } = deadLetterEnv();
    const { ids, result } = await deliver(testEnv, 'otp-send-dlq', [body]);
    spies.forEach((spy) => spy.mockRestore());
    expect(result.explicitAcks).toEqual(ids);
    expect(provider.calls).toHaveLength(1);
    expect(await attemptRows(id)).toEqual([expect.objectContaining({ attempt_number: 1, outcome: 'sent', provider_message_id: `msg-otpd-${id}` })]);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', provider_message_id: `msg-otpd-${id}`, lease_until: null, last_error_code: null });
    expect(await deadLetters(id)).toEqual([{ message_id: ids[0], reason: 'record_attempts_retries_exhausted' }]);
    // As on the normal path, the accepted SMS gets its delivery checks.
    expect(queue.sent).toEqual([{ body: statusChecks([{ requestId: id, check: 1 }]), delaySeconds: expect.any(Number) }]);
  });

  it('when D1 still fails there, the dead letter is retried with a growing delay and nothing is lost', async () => {
    const spies = quietly();
    const { id, body } = await deferredOutcome();
    const failing = deadLetterEnv({ DB: withFaultyBatch(env.DB, () => 'fail') });
    const first = await deliver(failing.testEnv, 'otp-send-dlq', [body]);
    expect(first.result.explicitAcks).toEqual([]);
    expect(first.result.retryMessages).toEqual([expect.objectContaining({ msgId: first.ids[0], delaySeconds: 30 })]);
    const later = await deliver(failing.testEnv, 'otp-send-dlq', [body], 8);
    expect(later.result.retryMessages).toEqual([expect.objectContaining({ msgId: later.ids[0], delaySeconds: 900 })]);
    // The dead-letter queue's 100 retries (wrangler.toml) span about a day: 30 s doubling to 15 minutes.
    const delays = Array.from({ length: 100 }, (_, index) => deadLetterRetryDelaySeconds(index + 1));
    expect(delays.slice(0, 7)).toEqual([30, 60, 120, 240, 480, 900, 900]);
    expect(delays.reduce((sum, delay) => sum + delay, 0)).toBe(86_430);
    // The failed transactions left nothing behind, not even half of it.
    expect(await attemptRows(id)).toEqual([]);
    expect(await deadLetters(id)).toEqual([]);
    expect((await requestRow(id)).status).toBe('sending');
    expect(failing.queue.sent).toEqual([]);

    // D1 answers again before the retries run out.
    const { testEnv } = deadLetterEnv();
    const { ids, result } = await deliver(testEnv, 'otp-send-dlq', [body], 9);
    spies.forEach((spy) => spy.mockRestore());
    expect(result.explicitAcks).toEqual(ids);
    expect(await attemptRows(id)).toEqual([expect.objectContaining({ attempt_number: 1, outcome: 'sent' })]);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', provider_message_id: `msg-otpd-${id}` });
    expect(await deadLetters(id)).toEqual([{ message_id: ids[0], reason: 'record_attempts_retries_exhausted' }]);
  });

  it('an SMS that went out counts as sent even if the sweeper ended the request expired meanwhile', async () => {
    const spies = quietly();
    const { id, body } = await deferredOutcome();
    // D1 came back and the cron ran first: the code expired while the request sat in `sending`.
    await env.DB.prepare('UPDATE otp_requests SET expires_at = ?1, lease_until = ?1 WHERE id = ?2')
      .bind(Date.now() - 1, id)
      .run();
    await sweep(env);
    expect(await requestRow(id)).toMatchObject({ status: 'expired', last_error_code: 'expired_before_delivery' });

    await deliver(deadLetterEnv().testEnv, 'otp-send-dlq', [body]);
    spies.forEach((spy) => spy.mockRestore());
    const row = await requestRow(id);
    expect(row).toMatchObject({ status: 'sent', provider_message_id: `msg-otpd-${id}`, last_error_code: null, last_error_message: null });
    expect(row.sent_at).toBe(body.attempts[0]!.finishedAt);
  });

  it('on the work queue too, a recorded SMS counts as sent even if the sweeper ended the request expired first', async () => {
    const spies = quietly();
    const { id, body } = await deferredOutcome();
    await env.DB.prepare('UPDATE otp_requests SET expires_at = ?1, lease_until = ?1 WHERE id = ?2')
      .bind(Date.now() - 1, id)
      .run();
    await sweep(env);
    expect((await requestRow(id)).status).toBe('expired');

    const { ids, result } = await deliver(deadLetterEnv().testEnv, 'otp-send', [body], 3);
    spies.forEach((spy) => spy.mockRestore());
    expect(result.explicitAcks).toEqual(ids);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', provider_message_id: `msg-otpd-${id}`, last_error_code: null });
    expect(await attemptRows(id)).toEqual([expect.objectContaining({ attempt_number: 1, outcome: 'sent' })]);
  });

  it('a late sent also ends a request claimed again and put back in line meanwhile; a later state stands', async () => {
    const spies = quietly();
    // Claimed again once the lease lapsed; that call failed for now and put the request back in line.
    const requeued = await deferredOutcome();
    await expireLease(requeued.id);
    await claimRequests(env.DB, [requeued.id], Date.now(), 30_000);
    const now = Date.now();
    const retry = { action: 'retry', delaySeconds: 5, errorCode: 'provider_unavailable', message: 'HTTP 503' } as const;
    await env.DB.batch(
      recordAttemptStatements(env.DB, { requestId: requeued.id, attemptNumber: 2, startedAt: now, finishedAt: now, httpStatus: 503, decision: retry }),
    );
    expect(await requestRow(requeued.id)).toMatchObject({ status: 'queued', attempts: 2 });
    // Verified, or superseded by a newer code, before the outcome came: that stands.
    const verified = await deferredOutcome();
    await env.DB.prepare("UPDATE otp_requests SET status = 'verified', lease_until = NULL WHERE id = ?").bind(verified.id).run();

    const { ids, result } = await deliver(deadLetterEnv().testEnv, 'otp-send-dlq', [requeued.body, verified.body]);
    spies.forEach((spy) => spy.mockRestore());
    expect(result.explicitAcks.sort()).toEqual([...ids].sort());
    expect(await requestRow(requeued.id)).toMatchObject({ status: 'sent', attempts: 2, provider_message_id: `msg-otpd-${requeued.id}`, last_error_code: null });
    expect((await attemptRows(requeued.id)).map((row) => row.outcome)).toEqual(['sent', 'retry']);
    expect(await requestRow(verified.id)).toMatchObject({ status: 'verified', provider_message_id: null });
    expect(await attemptRows(verified.id)).toEqual([expect.objectContaining({ attempt_number: 1, outcome: 'sent' })]);
  });

  it('a late retry or failure leaves a request claimed again alone, and ends one that was not', async () => {
    const spies = quietly();
    // The provider is down for the first request's call, and refuses the second request's.
    const reclaimed = await deferredOutcome(() => json(503, {}));
    const refused = await deferredOutcome(() => json(400, { success: false, error: { message: 'bad number' } }));
    // The first was claimed again once its lease lapsed, and that call is under way.
    await expireLease(reclaimed.id);
    await claimRequests(env.DB, [reclaimed.id], Date.now(), 30_000);
    const claim = await requestRow(reclaimed.id);
    expect(claim).toMatchObject({ status: 'sending', attempts: 2 });
    await expireLease(refused.id);

    await deliver(deadLetterEnv().testEnv, 'otp-send-dlq', [reclaimed.body, refused.body]);
    spies.forEach((spy) => spy.mockRestore());
    // The newer claim keeps its status and its lease; the late call is on record all the same.
    expect(await requestRow(reclaimed.id)).toMatchObject({
      status: 'sending',
      attempts: 2,
      lease_until: claim.lease_until,
      last_error_code: claim.last_error_code,
    });
    expect(await attemptRows(reclaimed.id)).toEqual([expect.objectContaining({ attempt_number: 1, outcome: 'retry', http_status: 503 })]);
    expect(await requestRow(refused.id)).toMatchObject({ status: 'failed', last_error_code: 'provider_rejected_request', lease_until: null });
    expect(await attemptRows(refused.id)).toEqual([expect.objectContaining({ attempt_number: 1, outcome: 'failed' })]);
    expect(await deadLetters(refused.id)).toEqual([expect.objectContaining({ reason: 'record_attempts_retries_exhausted' })]);
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
    const early = await deliverSendJobs(
      startMessagingEnv(),
      requests.map((r) => r.id),
      2,
    );
    expect(early.result.retryMessages).toHaveLength(3);
    expect(provider.calls).toHaveLength(3);

    for (const request of requests) await expireLease(request.id);
    await deliverSendJobs(
      startMessagingEnv(),
      requests.map((r) => r.id),
      3,
    );
    expect(provider.calls).toHaveLength(6);
    expect(provider.sms()).toBe(3);
    for (const request of requests) expect((await requestRow(request.id)).status).toBe('sent');
  });
});

describe('D1 unreachable on the API', () => {
  /**
   * The real database, except that every statement run fails as D1 does when it is unreachable;
   * statements matching `spared` (the caller's key lookup) still work.
   */
  function unreachableDb(db: D1Database, spared?: RegExp): D1Database {
    const fail = () => Promise.reject(new Error('D1_ERROR: Network connection lost.'));
    return new Proxy(db, {
      get(target, property) {
        if (property === 'batch') return fail;
        if (property === 'prepare') {
          return (query: string) => {
            const statement = target.prepare(query);
            if (spared?.test(query)) return statement;
            const failing = { first: fail, all: fail, run: fail, raw: fail, bind: () => failing };
            return statement && failing;
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as D1Database;
  }

  const KEY_LOOKUP = /FROM api_keys/;
  it.each([
    ['GET /v1/otp/:id', KEY_LOOKUP, () => new Request('https://otp.test/v1/otp/otp_AAAAAAAAAAAAAAAAAAAAAA', { headers: withKey() })],
    [
      'POST /v1/otp with an Idempotency-Key',
      KEY_LOOKUP,
      () =>
        new Request('https://otp.test/v1/otp', {
          method: 'POST',
          headers: withKey({ 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() }),
          body: JSON.stringify({ phoneNumber: '+447400900777' }),
        }),
    ],
    [
      'POST /v1/otp whose API key cannot be looked up',
      undefined,
      () =>
        new Request('https://otp.test/v1/otp', {
          method: 'POST',
          headers: withKey({ 'Content-Type': 'application/json' }),
          body: JSON.stringify({ phoneNumber: '+447400900778' }),
        }),
    ],
  ])('%s answers 503 service_unavailable with Retry-After, not 500', async (_name, spared, request) => {
    // Nothing of the key is remembered from earlier calls: the lookup (or not) is the one under test.
    forgetCachedKeys();
    const spies = quietly();
    const response = await fetchWithEnv(request(), { ...env, DB: unreachableDb(env.DB, spared) } as Env);
    spies.forEach((spy) => spy.mockRestore());
    expect(response.status).toBe(503);
    expect(response.headers.get('Retry-After')).toBe('5');
    expect((await response.json<{ error: { code: string } }>()).error.code).toBe('service_unavailable');
  });
});

describe('POST /v1/otp when one part fails', () => {
  const otpRequest = (phoneNumber: string, ip: string) =>
    new Request('https://otp.test/v1/otp', {
      method: 'POST',
      headers: withKey({ 'Content-Type': 'application/json', 'CF-Connecting-IP': ip }),
      body: JSON.stringify({ phoneNumber }),
    });

  it('only the insert fails: 503 naming what failed, and every limit it took is given back', async () => {
    const spies = quietly();
    const phone = uniquePhone();
    const ip = '192.0.2.77';
    const db = withFailingBatchOf(env.DB, /INSERT INTO otp_requests/);
    const failed = await fetchWithEnv(otpRequest(phone, ip), { ...env, DB: db } as Env);
    spies.forEach((spy) => spy.mockRestore());
    expect(db.failedBatches()).toBe(1);
    expect(failed.status).toBe(503);
    expect(failed.headers.get('Retry-After')).toBe('5');
    const { error } = await failed.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe('service_unavailable');
    expect(error.message).toMatch(/could not be recorded/);
    expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM otp_requests WHERE phone_number = ?').bind(phone).first('n')).toBe(0);

    // Refunded: the phone's one-a-minute send, from the same address, is still there.
    const retried = await fetchWithEnv(otpRequest(phone, ip), env);
    expect(retried.status).toBe(202);
    expect(await storedPhoneSends(phone)).toBe(1);
    expect(await storedSendsOfIp(ip)).toBe(1);
    expect((await prefixGuardFor(env, phonePrefix(phone)).status()).sends).toBe(1);
  });

  it('a lock held the insert back and D1 cannot be read for why: 503 service_unavailable naming what failed, and the limiters are refunded', async () => {
    const spies = quietly();
    const phone = uniquePhone();
    const ip = '192.0.2.79';
    await env.DB.prepare('INSERT INTO phone_locks (phone_number, failures, locked_at, locked_until) VALUES (?1, 10, ?2, ?3)')
      .bind(phone, Date.now(), Date.now() + 3_600_000)
      .run();
    // Only the rare path's read of the lock fails; the conditional insert runs.
    const db = withFailingBatchOf(env.DB, /SELECT phone_number, failures, locked_until FROM phone_locks/);
    const response = await fetchWithEnv(otpRequest(phone, ip), { ...env, DB: db } as Env);
    spies.forEach((spy) => spy.mockRestore());
    expect(db.failedBatches()).toBe(1);
    expect(response.status).toBe(503);
    expect(response.headers.get('Retry-After')).toBe('5');
    const { error } = await response.json<{ error: { code: string; message: string } }>();
    expect(error).toMatchObject({ code: 'service_unavailable', message: expect.stringMatching(/prefix blocks and phone locks could not be read/i) });
    expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM otp_requests WHERE phone_number = ?').bind(phone).first('n')).toBe(0);
    expect(await storedPhoneSends(phone)).toBe(0);
    expect(await storedSendsOfIp(ip)).toBe(0);
    expect((await prefixGuardFor(env, phonePrefix(phone)).status()).sends).toBe(0);
  });

  it('the limiter objects fail: 503 limiter_unavailable with Retry-After, and the scopes that answered are refunded', async () => {
    const spies = quietly();
    const phone = uniquePhone();
    const broken = () => Promise.reject(Object.assign(new Error('Durable Object storage is unavailable'), { retryable: true }));
    const rateLimiter = {
      idFromName: (name: string) => env.RATE_LIMITER.idFromName(name),
      get: () => ({ consume: broken, refund: broken }),
    } as unknown as Env['RATE_LIMITER'];
    const clientIpGuard = {
      idFromName: (name: string) => env.CLIENT_IP_GUARD.idFromName(name),
      get: () => ({ consume: broken, refund: broken }),
    } as unknown as Env['CLIENT_IP_GUARD'];
    const response = await fetchWithEnv(otpRequest(phone, '192.0.2.78'), { ...env, RATE_LIMITER: rateLimiter, CLIENT_IP_GUARD: clientIpGuard } as Env);
    spies.forEach((spy) => spy.mockRestore());
    expect(response.status).toBe(503);
    expect(response.headers.get('Retry-After')).toBe('5');
    expect((await response.json<{ error: { code: string } }>()).error.code).toBe('limiter_unavailable');
    expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM otp_requests WHERE phone_number = ?').bind(phone).first('n')).toBe(0);
    // The prefix object had admitted the send; it was taken back.
    expect((await prefixGuardFor(env, phonePrefix(phone)).status()).sends).toBe(0);
  });
});
