import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { deriveCode } from '../src/codes';
import { SEND_LEASE_MS, sendLeaseMs } from '../src/db/delivery-attempts';
import { newResendId, providerIdempotencyKey } from '../src/ids';
import { pacingHorizonMs, SEND_BATCH_SIZE } from '../src/pacing/provider-slots';
import { type RecordAttempts, resendFanout, sendJob, statusCheck, statusChecks, WorkMessage } from '../src/queue/messages';
import { attemptRows, PROVIDER_URL, requestRow, SEND_ROUTE, seedRequest, startMessagingEnv, TEST_API_KEY, TEST_OTP_SECRET } from './support/fixtures';
import { interceptOrigin, json } from './support/outbound';
import { withOwnPacer, withScriptedPacer, withUnreachablePacer } from './support/pacer';
import { deliver, deliverSendJobs } from './support/queue';
import { recordingQueue } from './support/recording-queue';
import { waitFor } from './support/wait';

const accepted = (messageId = 'msg_123') =>
  json(201, {
    success: true,
    statusCode: 201,
    requestId: 'req_trace',
    timestamp: new Date().toISOString(),
    data: { otpRequestId: 'otpreq_1', messageId, status: 'queued' },
  });

describe('send job → StartMessaging', () => {
  it('sends the derived code with a stable idempotency key in body and header, then marks the request sent', async () => {
    const { id, phoneNumber } = await seedRequest();
    const calls = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => accepted('msg_abc') });
    const { ids, result } = await deliverSendJobs(startMessagingEnv(), [id]);

    expect(result.explicitAcks).toEqual(ids);
    expect(result.retryMessages).toEqual([]);
    expect(calls).toHaveLength(1);
    const code = await deriveCode(TEST_OTP_SECRET, id, 6);
    expect(calls[0]).toMatchObject({
      method: 'POST',
      url: `${PROVIDER_URL}/otp/send`,
      headers: expect.objectContaining({
        'content-type': 'application/json',
        'x-api-key': TEST_API_KEY,
        'idempotency-key': providerIdempotencyKey(id),
      }),
      body: { phoneNumber, variables: { otp: code }, idempotencyKey: providerIdempotencyKey(id) },
    });

    const row = await requestRow(id);
    expect(row).toMatchObject({ status: 'sent', attempts: 1, provider_message_id: 'msg_abc', lease_until: null, last_error_code: null });
    const [attempt] = await attemptRows(id);
    expect(attempt).toMatchObject({ attempt_number: 1, outcome: 'sent', http_status: 201, provider_message_id: 'msg_abc' });
    expect(attempt!.duration_ms).toBeGreaterThanOrEqual(0);
  });

  it.each([
    ['200 with data.messageId', json(200, { data: { messageId: 'm1' } }), 'm1'],
    ['201 with only data.otpRequestId', json(201, { success: true, data: { otpRequestId: 'o1' } }), 'o1'],
    ['201 with the older data.requestId', json(201, { success: true, data: { requestId: 'r1', expiresAt: 'x' } }), 'r1'],
    ['201 with no ids at all', json(201, { success: true }), null],
  ])('reads a success envelope: %s', async (_name, response, messageId) => {
    const { id } = await seedRequest();
    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => response.clone() });
    await deliverSendJobs(startMessagingEnv(), [id]);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', provider_message_id: messageId });
  });

  it.each([
    [400, 'provider_rejected_request'],
    [401, 'provider_unauthorized'],
    [402, 'provider_insufficient_balance'],
    [409, 'provider_idempotency_conflict'],
    [418, 'provider_rejected_request'],
  ])('a %i is permanent: failed with %s, acked, never retried', async (status, code) => {
    const { id } = await seedRequest();
    const calls = interceptOrigin(PROVIDER_URL, {
      [SEND_ROUTE]: () => json(status, { success: false, error: { code: 'X', message: 'nope for +919876543210' } }),
    });
    const { ids, result } = await deliverSendJobs(startMessagingEnv(), [id]);
    expect(calls).toHaveLength(1);
    expect(result.explicitAcks).toEqual(ids);
    expect(result.retryMessages).toEqual([]);
    const row = await requestRow(id);
    expect(row).toMatchObject({ status: 'failed', last_error_code: code });
    expect(row.last_error_message).not.toContain('9876543210');
    expect(await attemptRows(id)).toEqual([expect.objectContaining({ outcome: 'failed', http_status: status, error_code: code })]);
  });

  it.each([
    ['500', () => json(500, { message: 'boom' }), 'provider_unavailable'],
    ['503', () => new Response('down', { status: 503 }), 'provider_unavailable'],
    ['a 2xx that is not JSON', () => new Response('<html>', { status: 201 }), 'provider_bad_response'],
    ['a network error', () => Promise.reject(new TypeError('connection refused')), 'provider_network_error'],
    ['a hang past the timeout', () => new Promise<Response>(() => {}), 'provider_timeout'],
  ])('%s is transient: retried with backoff, request back to queued with the error', async (_name, respond, code) => {
    const { id } = await seedRequest();
    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: respond });
    const { ids, result } = await deliverSendJobs(startMessagingEnv(), [id]);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toHaveLength(1);
    expect(result.retryMessages[0]!.msgId).toBe(ids[0]);
    // First retry: full jitter up to SEND_RETRY_BASE_SECONDS (2 s), never below 1 s.
    expect(result.retryMessages[0]!.delaySeconds).toBeGreaterThanOrEqual(1);
    expect(result.retryMessages[0]!.delaySeconds).toBeLessThanOrEqual(2);
    expect(await requestRow(id)).toMatchObject({ status: 'queued', last_error_code: code, lease_until: null });
    expect(await attemptRows(id)).toEqual([expect.objectContaining({ outcome: 'retry', error_code: code })]);
  });

  it('honours Retry-After on a 429 as the least delay', async () => {
    const { id } = await seedRequest();
    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => json(429, { error: { message: 'slow down' } }, { 'Retry-After': '17' }) });
    const { result } = await deliverSendJobs(startMessagingEnv(), [id]);
    expect(result.retryMessages[0]!.delaySeconds).toBe(17);
    expect(await requestRow(id)).toMatchObject({ status: 'queued', last_error_code: 'provider_rate_limited' });
  });

  it('reads retry_after from the error body when the header is missing', async () => {
    const { id } = await seedRequest();
    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => json(429, { success: false, error: { code: 'RATE', message: 'x', retry_after: 9 } }) });
    const { result } = await deliverSendJobs(startMessagingEnv(), [id]);
    expect(result.retryMessages[0]!.delaySeconds).toBe(9);
  });

  it('backoff grows with the attempt number and stays under the cap', async () => {
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 8; attempt++) {
      const { id } = await seedRequest();
      await env.DB.prepare('UPDATE otp_requests SET attempts = ? WHERE id = ?')
        .bind(attempt - 1, id)
        .run();
      interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => json(500, {}) });
      const { result } = await deliverSendJobs(startMessagingEnv({ SEND_RETRY_BASE_SECONDS: '2', SEND_RETRY_MAX_SECONDS: '20', SEND_MAX_ATTEMPTS: '20' }), [
        id,
      ]);
      delays.push(result.retryMessages[0]!.delaySeconds!);
      expect(delays.at(-1)).toBeLessThanOrEqual(Math.min(20, 2 * 2 ** (attempt - 1)));
    }
    expect(Math.max(...delays)).toBeGreaterThan(2);
  });

  it('gives up after SEND_MAX_ATTEMPTS provider attempts: failed, retries_exhausted', async () => {
    const { id } = await seedRequest();
    await env.DB.prepare('UPDATE otp_requests SET attempts = 2 WHERE id = ?').bind(id).run();
    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => json(503, {}) });
    const { ids, result } = await deliverSendJobs(startMessagingEnv({ SEND_MAX_ATTEMPTS: '3' }), [id]);
    expect(result.explicitAcks).toEqual(ids);
    expect(await requestRow(id)).toMatchObject({ status: 'failed', attempts: 3, last_error_code: 'retries_exhausted' });
  });

  it('keeps the same idempotency key and code on every retry', async () => {
    const { id } = await seedRequest();
    let call = 0;
    const calls = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => (++call < 3 ? json(500, {}) : accepted()) });
    const testEnv = startMessagingEnv();
    for (let delivery = 1; delivery <= 3; delivery++) await deliverSendJobs(testEnv, [id], delivery);
    expect(calls).toHaveLength(3);
    expect(new Set(calls.map((c) => JSON.stringify([c.headers['idempotency-key'], c.body])))).toHaveProperty('size', 1);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', attempts: 3 });
    expect((await attemptRows(id)).map((row) => row.outcome)).toEqual(['retry', 'retry', 'sent']);
  });

  it('never schedules a retry past the code’s expiry: the request ends expired', async () => {
    const { id } = await seedRequest({ ttlMs: 10_000 });
    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => json(429, {}, { 'Retry-After': '30' }) });
    const { ids, result } = await deliverSendJobs(startMessagingEnv(), [id]);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toEqual(ids);
    expect(await requestRow(id)).toMatchObject({ status: 'expired', last_error_code: 'expired_before_delivery' });
  });

  it('a job whose code already expired in the queue is ended without a provider call', async () => {
    const { id } = await seedRequest();
    await env.DB.prepare('UPDATE otp_requests SET expires_at = ? WHERE id = ?')
      .bind(Date.now() - 1, id)
      .run();
    const calls = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => accepted() });
    const { ids, result } = await deliverSendJobs(startMessagingEnv(), [id]);
    expect(calls).toHaveLength(0);
    expect(result.explicitAcks).toEqual(ids);
    expect(await requestRow(id)).toMatchObject({ status: 'expired', last_error_code: 'expired_before_delivery' });
  });
});

describe('duplicates and faults', () => {
  it('a redelivered job whose request is already sent is acked without a provider call', async () => {
    const { id } = await seedRequest();
    const calls = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => accepted() });
    const testEnv = startMessagingEnv();
    await deliverSendJobs(testEnv, [id]);
    const again = await deliverSendJobs(testEnv, [id], 2);
    expect(calls).toHaveLength(1);
    expect(again.result.explicitAcks).toEqual(again.ids);
  });

  it('two copies of one job in a batch make one provider call', async () => {
    const { id } = await seedRequest();
    const calls = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => accepted() });
    const { ids, result } = await deliverSendJobs(startMessagingEnv(), [id, id]);
    expect(calls).toHaveLength(1);
    expect(result.explicitAcks).toContain(ids[0]);
    // The second copy saw the lease held and comes back later, when it will find the request sent.
    expect(result.retryMessages.map((m) => m.msgId)).toEqual([ids[1]]);
  });

  it('copies delivered concurrently to two consumers make one provider call', async () => {
    const { id } = await seedRequest();
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const calls = interceptOrigin(PROVIDER_URL, {
      [SEND_ROUTE]: async () => {
        await answered;
        return accepted();
      },
    });
    const testEnv = startMessagingEnv();
    // The first copy claims the request and is inside its provider call...
    const first = deliverSendJobs(testEnv, [id]);
    await waitFor(() => calls.length === 1, 'the first copy’s provider call');
    // ...when the second copy reaches another consumer: the lease is held, so it calls nothing
    // and comes back once the lease would have lapsed.
    const second = await deliverSendJobs(testEnv, [id]);
    expect(second.result.explicitAcks).toEqual([]);
    expect(second.result.retryMessages.map((m) => m.msgId)).toEqual(second.ids);
    expect(second.result.retryMessages[0]!.delaySeconds).toBeLessThanOrEqual(Math.ceil(SEND_LEASE_MS / 1000));
    answer();
    const { ids, result } = await first;
    expect(result.explicitAcks).toEqual(ids);
    expect(calls).toHaveLength(1);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('a superseded request is not sent', async () => {
    const { id } = await seedRequest();
    await env.DB.prepare("UPDATE otp_requests SET status = 'superseded' WHERE id = ?").bind(id).run();
    const calls = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => accepted() });
    const { ids, result } = await deliverSendJobs(startMessagingEnv(), [id]);
    expect(calls).toHaveLength(0);
    expect(result.explicitAcks).toEqual(ids);
  });

  it('without SM_API_KEY the request fails as provider_misconfigured and nothing is called', async () => {
    const { id } = await seedRequest();
    const { ids, result } = await deliverSendJobs(startMessagingEnv({ SM_API_KEY: '' }), [id]);
    expect(result.explicitAcks).toEqual(ids);
    const row = await requestRow(id);
    expect(row).toMatchObject({ status: 'failed', last_error_code: 'provider_misconfigured' });
    expect(row.last_error_message).toContain('SM_API_KEY');
  });

  it('sends a batch concurrently, each message acked or retried on its own', async () => {
    const good = await seedRequest();
    const bad = await seedRequest();
    const flaky = await seedRequest();
    interceptOrigin(PROVIDER_URL, {
      [SEND_ROUTE]: (call) => {
        const phone = (call.body as { phoneNumber: string }).phoneNumber;
        if (phone === bad.phoneNumber) return json(400, {});
        if (phone === flaky.phoneNumber) return json(503, {});
        return accepted();
      },
    });
    const { ids, result } = await deliverSendJobs(startMessagingEnv(), [good.id, bad.id, flaky.id]);
    expect(result.explicitAcks.sort()).toEqual([ids[0], ids[1]].sort());
    expect(result.retryMessages.map((m) => m.msgId)).toEqual([ids[2]]);
    expect((await requestRow(good.id)).status).toBe('sent');
    expect((await requestRow(bad.id)).status).toBe('failed');
    expect((await requestRow(flaky.id)).status).toBe('queued');
  });
});

describe('dead letters', () => {
  it('a malformed message is dead-lettered with a reason, not retried', async () => {
    const deadLetters = recordingQueue();
    const testEnv = { ...startMessagingEnv(), DEAD_LETTER_QUEUE: deadLetters.binding } as Env;
    const { ids, result } = await deliver(testEnv, 'otp-send', [{ type: 'send', v: 1, requestId: 'nope' }, 'garbage']);
    expect(result.explicitAcks.sort()).toEqual([...ids].sort());
    expect(result.retryMessages).toEqual([]);
    // What reached the dead-letter queue: the reason, never the body.
    expect(deadLetters.messages).toEqual([
      { body: { type: 'rejected', v: 1, sourceMessageId: ids[0], reason: expect.stringMatching(/./) }, delaySeconds: undefined },
      { body: { type: 'rejected', v: 1, sourceMessageId: ids[1], reason: expect.stringMatching(/./) }, delaySeconds: undefined },
    ]);
    expect(JSON.stringify(deadLetters.messages)).not.toContain('garbage');
    // Each is then recorded by the dead-letter consumer with that reason.
    const rejected = deadLetters.messages.map((message) => message.body);
    await deliver(env, 'otp-send-dlq', rejected);
    const placeholders = ids.map((_, index) => `?${index + 1}`).join(', ');
    const { results } = await env.DB.prepare(`SELECT message_id, request_id, reason FROM dead_letters WHERE message_id IN (${placeholders})`)
      .bind(...ids)
      .all();
    expect(results).toHaveLength(2);
    for (const body of rejected as Array<{ sourceMessageId: string; reason: string }>) {
      expect(results).toContainEqual({ message_id: body.sourceMessageId, request_id: null, reason: body.reason });
    }
  });

  it('a job whose request is gone (erased) is acked without a provider call, and nothing is dead-lettered', async () => {
    const deadLetters = recordingQueue();
    const testEnv = { ...startMessagingEnv(), DEAD_LETTER_QUEUE: deadLetters.binding } as Env;
    // No provider route is intercepted: a call would fail the test.
    const { ids, result } = await deliverSendJobs(testEnv, ['otp_AAAAAAAAAAAAAAAAAAAAAA']);
    expect(result.explicitAcks).toEqual(ids);
    expect(deadLetters.messages).toEqual([]);
  });

  it('when the dead-letter queue refuses a message, it is retried later, not acked and lost', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const refusing = { send: () => Promise.reject(new Error('Queue send failed')) } as unknown as Queue;
    const testEnv = { ...startMessagingEnv(), DEAD_LETTER_QUEUE: refusing } as Env;
    const { ids, result } = await deliver(testEnv, 'otp-send', ['garbage']);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([{ msgId: ids[0], delaySeconds: 30 }]);
    expect(errors.mock.calls.map((call) => JSON.parse(String(call[0])))).toEqual([
      expect.objectContaining({ event: 'send.dead_letter_failed', messageId: ids[0] }),
    ]);
    errors.mockRestore();
  });

  it('the dead-letter consumer records a dead letter it cannot read as unreadable_dead_letter, and acks it', async () => {
    const warnings = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { ids, result } = await deliver(env, 'otp-send-dlq', ['garbage', { type: 'send', v: 2, requestId: 'otp_x' }]);
    expect(result.explicitAcks.sort()).toEqual([...ids].sort());
    expect(result.retryMessages).toEqual([]);
    const placeholders = ids.map((_, index) => `?${index + 1}`).join(', ');
    const { results } = await env.DB.prepare(
      `SELECT message_id, request_id, reason FROM dead_letters WHERE message_id IN (${placeholders}) ORDER BY message_id`,
    )
      .bind(...ids)
      .all();
    expect(results).toEqual(
      ids.map((id) => ({ message_id: id, request_id: null, reason: 'unreadable_dead_letter' })).sort((a, b) => a.message_id.localeCompare(b.message_id)),
    );
    warnings.mockRestore();
  });

  it('the dead-letter consumer ends an exhausted job as failed and records every dead letter', async () => {
    const { id } = await seedRequest();
    await env.DB.prepare("UPDATE otp_requests SET attempts = 11, last_error_code = 'provider_unavailable' WHERE id = ?").bind(id).run();
    const { ids, result } = await deliver(env, 'otp-send-dlq', [
      { type: 'send', v: 1, requestId: id },
      { type: 'rejected', v: 1, sourceMessageId: 'msg-x', reason: 'invalid body' },
    ]);
    expect(result.explicitAcks.sort()).toEqual([...ids].sort());
    const row = await requestRow(id);
    expect(row).toMatchObject({ status: 'failed', last_error_code: 'retries_exhausted' });
    expect(row.last_error_message).toContain('provider_unavailable');
    const { results } = await env.DB.prepare('SELECT message_id, request_id, reason FROM dead_letters ORDER BY id').all();
    expect(results).toEqual(
      expect.arrayContaining([
        { message_id: ids[0], request_id: id, reason: 'retries_exhausted' },
        { message_id: 'msg-x', request_id: null, reason: 'invalid body' },
      ]),
    );
  });

  it('the dead-letter consumer reads every kind of work message that ran out of retries', async () => {
    const { id } = await seedRequest();
    const now = Date.now();
    const record: RecordAttempts = {
      type: 'record_attempts',
      v: 1,
      attempts: [
        {
          requestId: id,
          attemptNumber: 1,
          startedAt: now,
          finishedAt: now,
          httpStatus: 503,
          decision: { action: 'retry', delaySeconds: 4, errorCode: 'provider_unavailable', message: 'HTTP 503' },
        },
      ],
    };
    const bodies = [sendJob(id), record, statusCheck(id, 2), statusChecks([{ requestId: id, check: 1 }]), resendFanout(newResendId(), 3)];
    expect(new Set(bodies.map((body) => WorkMessage.parse(body).type)).size).toBe(WorkMessage.options.length);
    const { ids, result } = await deliver(env, 'otp-send-dlq', bodies);
    expect(result.explicitAcks.sort()).toEqual([...ids].sort());
    const placeholders = ids.map((_, index) => `?${index + 1}`).join(', ');
    const { results } = await env.DB.prepare(`SELECT message_id, reason FROM dead_letters WHERE message_id IN (${placeholders})`)
      .bind(...ids)
      .all<{ message_id: string; reason: string }>();
    expect(new Map(results.map((row) => [row.message_id, row.reason]))).toEqual(
      new Map([
        [ids[0], 'retries_exhausted'],
        [ids[1], 'record_attempts_retries_exhausted'],
        [ids[2], 'status_check_retries_exhausted'],
        [ids[3], 'status_check_retries_exhausted'],
        [ids[4], 'resend_fanout_retries_exhausted'],
      ]),
    );
  });

  it('the dead-letter consumer leaves a request that already finished alone', async () => {
    const { id } = await seedRequest();
    await env.DB.prepare("UPDATE otp_requests SET status = 'sent' WHERE id = ?").bind(id).run();
    await deliver(env, 'otp-send-dlq', [{ type: 'send', v: 1, requestId: id }]);
    expect((await requestRow(id)).status).toBe('sent');
  });
});

describe('send lease', () => {
  it('outlasts the wait for the last send time plus every call a worker makes in turn, each timing out', () => {
    // The slowest configuration: the lowest rate (longest horizon), the longest timeout, one call at a time.
    const horizonMs = pacingHorizonMs(1);
    expect(sendLeaseMs(30_000, horizonMs, SEND_BATCH_SIZE)).toBeGreaterThan(horizonMs + SEND_BATCH_SIZE * 30_000);
    // The defaults: 20/s, 8 s timeout, a full batch over 50 workers in two turns.
    expect(sendLeaseMs(8000, pacingHorizonMs(20), Math.ceil(SEND_BATCH_SIZE / 50))).toBeGreaterThan(5000 + 2 * 8000);
    expect(sendLeaseMs(8000, pacingHorizonMs(20))).toBe(SEND_LEASE_MS);
  });
});

describe('expiry and pacing', () => {
  it('never calls the provider when the code expires before its send time; the request ends expired', async () => {
    const { testEnv, pacer } = withOwnPacer(startMessagingEnv({ PROVIDER_RATE_PER_SECOND: '1' }));
    const { id } = await seedRequest();
    // A backlog: at 1 call/s the pacer's next free time is about 7 s away, within its 10 s horizon
    // (and so is the one after it, for the job's second delivery)...
    const { nextFreeAt } = await pacer.reserve({ count: 6, ratePerSecond: 1, horizonMs: 10_000 });
    // ...and the code expires before it.
    const expiresAt = nextFreeAt - 500;
    await env.DB.prepare('UPDATE otp_requests SET expires_at = ? WHERE id = ?').bind(expiresAt, id).run();
    const calls = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => accepted() });
    const first = await deliverSendJobs(testEnv, [id]);
    expect(calls).toHaveLength(0);
    expect(first.result.retryMessages.map((m) => m.msgId)).toEqual(first.ids);
    expect(await requestRow(id)).toMatchObject({ status: 'queued', attempts: 0, lease_until: null });

    // When the job comes back after the expiry (moved into the past here) it is ended without a call.
    await env.DB.prepare('UPDATE otp_requests SET expires_at = ? WHERE id = ?')
      .bind(Date.now() - 1, id)
      .run();
    const again = await deliverSendJobs(testEnv, [id], 2);
    expect(again.result.explicitAcks).toEqual(again.ids);
    expect(calls).toHaveLength(0);
    expect(await requestRow(id)).toMatchObject({ status: 'expired', last_error_code: 'expired_before_delivery', attempts: 0 });
  });

  it('jobs past the pacing horizon wait in the queue until the pacer frees up: nothing claimed, nothing sent', async () => {
    const { testEnv, pacer } = withOwnPacer(startMessagingEnv());
    const requests = [await seedRequest(), await seedRequest(), await seedRequest()];
    // Other work holds every time of the next 20 s; the horizon is 5.75 s.
    const { nextFreeAt } = await pacer.reserve({ count: 1000, ratePerSecond: 20, horizonMs: 20_000 });
    const calls = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => accepted() });
    const before = Date.now();
    const { ids, result } = await deliverSendJobs(
      testEnv,
      requests.map((request) => request.id),
    );
    const after = Date.now();
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(ids);
    for (const retried of result.retryMessages) {
      expect(retried.delaySeconds).toBeGreaterThanOrEqual(Math.ceil((nextFreeAt - after) / 1000));
      expect(retried.delaySeconds).toBeLessThanOrEqual(Math.ceil((nextFreeAt - before) / 1000));
    }
    expect(calls).toHaveLength(0);
    for (const request of requests) {
      expect(await requestRow(request.id)).toMatchObject({ status: 'queued', attempts: 0, lease_until: null });
      expect(await attemptRows(request.id)).toEqual([]);
    }
  });

  it('with the pacer unreachable every job waits in the queue with backoff; nothing is claimed, sent or lost', async () => {
    const requests = [await seedRequest(), await seedRequest()];
    const calls = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => accepted() });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const { ids, result } = await deliverSendJobs(
      withUnreachablePacer(startMessagingEnv()),
      requests.map((request) => request.id),
    );
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(ids);
    // First retry: full jitter up to SEND_RETRY_BASE_SECONDS (2 s), never below 1 s.
    for (const retried of result.retryMessages) expect([1, 2]).toContain(retried.delaySeconds);
    expect(errors.mock.calls.map((call) => JSON.parse(String(call[0])).event)).toEqual(['send.pacer_unavailable']);
    errors.mockRestore();
    expect(calls).toHaveLength(0);
    for (const request of requests) expect(await requestRow(request.id)).toMatchObject({ status: 'queued', attempts: 0, lease_until: null });

    // Once the pacer answers again, each is sent exactly once.
    const { testEnv } = withOwnPacer(startMessagingEnv());
    await deliverSendJobs(
      testEnv,
      requests.map((request) => request.id),
      2,
    );
    expect(calls).toHaveLength(2);
    for (const request of requests) expect(await requestRow(request.id)).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('a call whose send time passed and that gets no new one in time is not made: its claim is given back and the job waits', async () => {
    const warnings = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { id } = await seedRequest();
    const calls = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => accepted() });
    // The batch's time passed a second ago (say the claim was that slow); the pacer is then full for 7 s.
    const { testEnv, asked } = withScriptedPacer(startMessagingEnv(), (_input, call) =>
      call === 0 ? { slots: [Date.now() - 1000], nextFreeAt: Date.now() } : { slots: [], nextFreeAt: Date.now() + 7000 },
    );
    const { ids, result } = await deliverSendJobs(testEnv, [id]);
    expect(asked.map((input) => input.count)).toEqual([1, 1]);
    expect(calls).toHaveLength(0);
    expect(result.retryMessages).toEqual([{ msgId: ids[0], delaySeconds: 7 }]);
    expect(await requestRow(id)).toMatchObject({ status: 'queued', attempts: 0, lease_until: null });
    expect(await attemptRows(id)).toEqual([]);
    expect(warnings.mock.calls.map((call) => JSON.parse(String(call[0])))).toContainEqual(
      expect.objectContaining({ event: 'send.not_started', requestId: id, reason: 'pacer_busy' }),
    );
    warnings.mockRestore();
  });

  it('a call whose new send time falls after the code’s expiry is not made', async () => {
    const { id } = await seedRequest();
    const { expires_at: expiresAt } = await requestRow(id);
    const calls = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => accepted() });
    const { testEnv } = withScriptedPacer(startMessagingEnv(), (_input, call) =>
      call === 0 ? { slots: [Date.now() - 1000], nextFreeAt: Date.now() } : { slots: [expiresAt + 10], nextFreeAt: expiresAt + 50 },
    );
    const { ids, result } = await deliverSendJobs(testEnv, [id]);
    expect(calls).toHaveLength(0);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(ids);
    expect(await requestRow(id)).toMatchObject({ status: 'queued', attempts: 0, lease_until: null });
  });
});
