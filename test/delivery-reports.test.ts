import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { planAfterCheck, statusCheckDelaySeconds } from '../src/delivery-reports/check-policy';
import { START_TOLERANCE_MS } from '../src/pacing/pacing-schedule';
import { SANDBOX_MAGIC_NUMBERS, SandboxProvider } from '../src/providers/sandbox';
import { type StatusCheck, statusCheck } from '../src/queue/messages';
import { accepted, checkRows, provider, reportEnv, sentRequest, statusAnswer } from './support/delivery-reports';
import { attemptRows, PROVIDER_URL, requestRow, SEND_ROUTE, seedRequest, TEST_API_KEY } from './support/fixtures';
import { interceptOrigin, json } from './support/outbound';
import { mostInOneSecond, withOwnPacer } from './support/pacer';
import { deliver, deliverSendJobs } from './support/queue';
import { verifyWithRightCode } from './support/verify';

const SETTINGS = { baseSeconds: 30, maxChecks: 6 };

describe('scheduling after a send', () => {
  it('a message the provider accepted gets a delayed first status check; the queue body holds ids only', async () => {
    const { queue, testEnv } = reportEnv();
    const { id, phoneNumber } = await sentRequest(testEnv, 'msg_sched');
    expect(queue.messages).toEqual([{ body: { type: 'status_checks', v: 1, checks: [{ requestId: id, check: 1 }] }, delaySeconds: 30 }]);
    expect(JSON.stringify(queue.messages)).not.toContain(phoneNumber.slice(1));
  });

  it('a batch of accepted sends gets ONE first-check message for all of them, holding ids only', async () => {
    const { queue, testEnv } = reportEnv();
    const requests = await Promise.all([seedRequest(), seedRequest(), seedRequest(), seedRequest()]);
    const refused = requests[3]!;
    interceptOrigin(PROVIDER_URL, {
      [SEND_ROUTE]: (call) => ((call.body as { phoneNumber: string }).phoneNumber === refused.phoneNumber ? json(400, {}) : accepted('msg_many')),
    });
    await deliverSendJobs(
      testEnv,
      requests.map((request) => request.id),
    );
    const checked = requests.slice(0, 3).map((request) => ({ requestId: request.id, check: 1 }));
    expect(queue.messages).toEqual([{ body: { type: 'status_checks', v: 1, checks: expect.arrayContaining(checked) }, delaySeconds: 30 }]);
    expect((queue.messages[0]!.body as { checks: unknown[] }).checks).toHaveLength(3);
    for (const { phoneNumber } of requests) expect(JSON.stringify(queue.messages)).not.toContain(phoneNumber.slice(1));
  });

  it('no check without a provider message id, and none when DELIVERY_CHECK_MAX is 0', async () => {
    for (const [response, overrides] of [
      [json(201, { success: true }), {}],
      [accepted('msg_off'), { DELIVERY_CHECK_MAX: '0' }],
    ] as const) {
      const { queue, testEnv } = reportEnv(overrides);
      const { id } = await seedRequest();
      interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => response.clone() });
      await deliverSendJobs(testEnv, [id]);
      expect((await requestRow(id)).status).toBe('sent');
      expect(queue.messages).toEqual([]);
    }
  });

  it('failed and retried sends get no status check', async () => {
    const { queue, testEnv } = reportEnv();
    const failed = await seedRequest();
    const retried = await seedRequest();
    interceptOrigin(PROVIDER_URL, {
      [SEND_ROUTE]: (call) => ((call.body as { phoneNumber: string }).phoneNumber === failed.phoneNumber ? json(400, {}) : json(503, {})),
    });
    await deliverSendJobs(testEnv, [failed.id, retried.id]);
    expect(queue.messages).toEqual([]);
  });
});

describe('status_check messages', () => {
  it('delivered: GET /messages/:id with the API key, request sent → delivered, the check recorded, no follow-up', async () => {
    const { queue, testEnv } = reportEnv();
    const { id } = await sentRequest(testEnv, 'msg_ok');
    queue.take();
    const gets = provider(() => statusAnswer('delivered', { deliveredAt: '2026-11-26T10:00:05Z' }));
    const { ids, result } = await deliver(testEnv, 'otp-send', [statusCheck(id, 1)]);

    expect(result.explicitAcks).toEqual(ids);
    expect(gets()).toHaveLength(1);
    expect(gets()[0]).toMatchObject({ url: `${PROVIDER_URL}/messages/msg_ok`, headers: expect.objectContaining({ 'x-api-key': TEST_API_KEY }) });
    expect(await requestRow(id)).toMatchObject({
      status: 'delivered',
      delivery_status: 'delivered',
      delivered_at: Date.parse('2026-11-26T10:00:05Z'),
      delivery_checks: 1,
    });
    expect(await checkRows(id)).toEqual([
      expect.objectContaining({ check_number: 1, outcome: 'delivered', provider_status: 'delivered', http_status: 200, next_check_seconds: null }),
    ]);
    expect(queue.messages).toEqual([]);
  });

  it('failed: the request ends failed with provider_delivery_failed, digits redacted', async () => {
    const { queue, testEnv } = reportEnv();
    const { id } = await sentRequest(testEnv, 'msg_fail');
    queue.take();
    provider(() => statusAnswer('failed', { error: { code: 'DND', message: 'number +919876543210 is on DND' } }));
    await deliver(testEnv, 'otp-send', [statusCheck(id, 1)]);
    const row = await requestRow(id);
    expect(row).toMatchObject({ status: 'failed', delivery_status: 'failed', last_error_code: 'provider_delivery_failed' });
    expect(row.last_error_message).toContain('DND');
    expect(row.last_error_message).not.toContain('9876543210');
    expect(queue.messages).toEqual([]);
  });

  it('still queued: recorded as pending, the next check scheduled with backoff', async () => {
    const { queue, testEnv } = reportEnv();
    const { id } = await sentRequest(testEnv, 'msg_slow');
    queue.take();
    provider(() => statusAnswer('queued'));
    await deliver(testEnv, 'otp-send', [statusCheck(id, 1)]);
    expect(queue.take()).toEqual([{ body: statusCheck(id, 2), delaySeconds: 60 }]);
    await deliver(testEnv, 'otp-send', [statusCheck(id, 2)]);
    expect(queue.take()).toEqual([{ body: statusCheck(id, 3), delaySeconds: 120 }]);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', delivery_status: 'pending', delivery_checks: 2 });
    expect((await checkRows(id)).map((row) => [row.check_number, row.outcome, row.next_check_seconds])).toEqual([
      [1, 'pending', 60],
      [2, 'pending', 120],
    ]);
  });

  it('polling is bounded: after the last check the delivery status is unknown and nothing more is scheduled', async () => {
    const { queue, testEnv } = reportEnv({ DELIVERY_CHECK_MAX: '3' });
    const { id } = await sentRequest(testEnv, 'msg_never');
    queue.take();
    const gets = provider(() => statusAnswer('sent'));
    let next: StatusCheck | undefined = statusCheck(id, 1);
    while (next) {
      await deliver(testEnv, 'otp-send', [next]);
      next = queue.take()[0]?.body as StatusCheck | undefined;
    }
    expect(gets()).toHaveLength(3);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', delivery_status: 'unknown', delivery_checks: 3 });
  });

  it('a transient error counts as a check and waits at least the provider’s Retry-After', async () => {
    const { queue, testEnv } = reportEnv();
    const { id } = await sentRequest(testEnv, 'msg_busy');
    queue.take();
    provider(() => json(429, { message: 'slow down' }, { 'Retry-After': '300' }));
    const { ids, result } = await deliver(testEnv, 'otp-send', [statusCheck(id, 1)]);
    expect(result.explicitAcks).toEqual(ids);
    expect(queue.take()).toEqual([{ body: statusCheck(id, 2), delaySeconds: 300 }]);
    expect(await checkRows(id)).toEqual([expect.objectContaining({ outcome: 'error', error_code: 'provider_rate_limited', http_status: 429 })]);
    expect((await requestRow(id)).delivery_status).toBe('pending');
  });

  it('an unknown message id ends the polling at once (delivery unknown)', async () => {
    const { queue, testEnv } = reportEnv();
    const { id } = await sentRequest(testEnv, 'msg_lost');
    queue.take();
    provider(() => json(404, { message: 'not found' }));
    await deliver(testEnv, 'otp-send', [statusCheck(id, 1)]);
    expect(queue.messages).toEqual([]);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', delivery_status: 'unknown' });
  });

  it('a redelivered check that was already recorded is acked without asking the provider again', async () => {
    const { queue, testEnv } = reportEnv();
    const { id } = await sentRequest(testEnv, 'msg_dup');
    queue.take();
    const gets = provider(() => statusAnswer('queued'));
    await deliver(testEnv, 'otp-send', [statusCheck(id, 1)]);
    const again = await deliver(testEnv, 'otp-send', [statusCheck(id, 1)], 2);
    expect(again.result.explicitAcks).toEqual(again.ids);
    expect(gets()).toHaveLength(1);
    expect(queue.take()).toHaveLength(1);
  });

  it('a request verified before the report keeps its status and still learns the delivery', async () => {
    const { queue, testEnv } = reportEnv();
    const { id } = await sentRequest(testEnv, 'msg_verified');
    queue.take();
    await env.DB.prepare("UPDATE otp_requests SET status = 'verified', verified_at = ? WHERE id = ?").bind(Date.now(), id).run();
    provider(() => statusAnswer('delivered'));
    await deliver(testEnv, 'otp-send', [statusCheck(id, 1)]);
    expect(await requestRow(id)).toMatchObject({ status: 'verified', delivery_status: 'delivered' });
  });

  it('a right code settles the delivery: the delayed check then asks nothing and writes nothing', async () => {
    const { queue, testEnv } = reportEnv();
    const { id } = await sentRequest(testEnv, 'msg_by_code');
    queue.take();
    const verified = await verifyWithRightCode(id, testEnv);
    expect(verified.status).toBe(200);
    const row = await requestRow(id);
    expect(row).toMatchObject({ status: 'verified', delivery_status: 'delivered', delivered_at: row.verified_at });

    const gets = provider(() => statusAnswer('failed'));
    const { ids, result } = await deliver(testEnv, 'otp-send', [statusCheck(id, 1)]);
    expect(result.explicitAcks).toEqual(ids);
    expect(gets()).toEqual([]);
    expect(await checkRows(id)).toEqual([]);
    expect(queue.take()).toEqual([]);
    expect(await requestRow(id)).toMatchObject({ status: 'verified', delivery_status: 'delivered' });
  });

  it('a status check that ran out of queue retries is dead-lettered with its reason; the request is not failed for it', async () => {
    const { queue, testEnv } = reportEnv();
    const { id } = await sentRequest(testEnv, 'msg_dlq');
    queue.take();
    const { ids, result } = await deliver(env, 'otp-send-dlq', [statusCheck(id, 2)]);
    expect(result.explicitAcks).toEqual(ids);
    const letter = await env.DB.prepare('SELECT request_id, reason FROM dead_letters WHERE message_id = ?').bind(ids[0]).first();
    expect(letter).toEqual({ request_id: id, reason: 'status_check_retries_exhausted' });
    expect((await requestRow(id)).status).toBe('sent');
  });

  it('a check for a request that no longer exists (retention) is acked and forgotten', async () => {
    const { testEnv } = reportEnv();
    const { ids, result } = await deliver(testEnv, 'otp-send', [statusCheck('otp_AAAAAAAAAAAAAAAAAAAAAA', 1)]);
    expect(result.explicitAcks).toEqual(ids);
  });

  it.each([
    ['top-level status, upper case', json(200, { status: 'DELIVERED' }), 'delivered'],
    ['status inside data', json(200, { data: { status: 'failed', error: 'expired on handset' } }), 'failed'],
    ['initiated', json(200, { data: { status: 'initiated' } }), 'pending'],
    ['an unknown status word', json(200, { data: { status: 'teleported' } }), 'error'],
    ['HTML instead of JSON', new Response('<html>', { status: 200 }), 'error'],
  ])('reads the status answer tolerantly: %s', async (_name, response, outcome) => {
    const { queue, testEnv } = reportEnv();
    const { id } = await sentRequest(testEnv, 'msg_shape');
    queue.take();
    provider(() => response.clone());
    await deliver(testEnv, 'otp-send', [statusCheck(id, 1)]);
    expect((await checkRows(id))[0]).toMatchObject({ outcome });
  });
});

describe('status checks and the account-wide provider pacer', () => {
  /** A StartMessaging env with a pacer of its own, recorded queue, checks every 30 s·2^n. */
  function pacedReportEnv(rate: number) {
    const { queue, testEnv: base } = reportEnv({ PROVIDER_RATE_PER_SECOND: String(rate) });
    const { testEnv, pacer } = withOwnPacer(base);
    return { queue, testEnv, pacer };
  }

  async function checkedAt(requestId: string): Promise<number> {
    const row = await env.DB.prepare('SELECT checked_at FROM status_checks WHERE request_id = ?').bind(requestId).first<{ checked_at: number }>();
    return row!.checked_at;
  }

  it('every status check takes a time from the pacer and calls the provider on it', async () => {
    const { queue, testEnv, pacer } = pacedReportEnv(20);
    const { id } = await sentRequest(testEnv, 'msg_paced');
    queue.take();
    const sendTime = await runInDurableObject(pacer, (_, state) => state.storage.get<number>('lastSlot'));
    const gets = provider(() => statusAnswer('delivered'));
    const { ids, result } = await deliver(testEnv, 'otp-send', [statusCheck(id, 1)]);
    expect(result.explicitAcks).toEqual(ids);
    expect(gets()).toHaveLength(1);
    // The pacer granted one more time, after the send's, and the check started on it.
    const checkTime = await runInDurableObject(pacer, (_, state) => state.storage.get<number>('lastSlot'));
    expect(checkTime).toBeGreaterThan(sendTime!);
    const started = await checkedAt(id);
    expect(started).toBeGreaterThanOrEqual(checkTime!);
    expect(started).toBeLessThanOrEqual(checkTime! + START_TOLERANCE_MS);
  });

  it('a pacer booked past its horizon refuses: the check comes back when it frees up, with no provider call and nothing recorded', async () => {
    const { queue, testEnv, pacer } = pacedReportEnv(20);
    const { id } = await sentRequest(testEnv, 'msg_refused');
    queue.take();
    // Other work holds every time of the next 20 s, well past the 5.75 s horizon.
    const { nextFreeAt } = await pacer.reserve({ count: 1000, ratePerSecond: 20, horizonMs: 20_000 });
    const gets = provider(() => statusAnswer('delivered'));
    const before = Date.now();
    const { ids, result } = await deliver(testEnv, 'otp-send', [statusCheck(id, 1)]);
    const after = Date.now();
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((message) => message.msgId)).toEqual(ids);
    const delay = result.retryMessages[0]!.delaySeconds!;
    expect(delay).toBeGreaterThanOrEqual(Math.ceil((nextFreeAt - after) / 1000));
    expect(delay).toBeLessThanOrEqual(Math.ceil((nextFreeAt - before) / 1000));
    expect(gets()).toHaveLength(0);
    expect(await checkRows(id)).toEqual([]);
    expect(queue.messages).toEqual([]);
    expect((await requestRow(id)).delivery_checks).toBe(0);
  });

  it('sends and status checks share one budget: at 2 calls/s, no rolling second holds more than 2 of either kind', { timeout: 30_000 }, async () => {
    const { queue, testEnv } = pacedReportEnv(2);
    const checked = [await sentRequest(testEnv, 'msg_a'), await sentRequest(testEnv, 'msg_b')];
    queue.take();
    const waiting = [await seedRequest(), await seedRequest()];
    provider(() => statusAnswer('delivered'));
    // Two sends and two checks arrive together, as two batches would.
    await Promise.all([
      deliverSendJobs(
        testEnv,
        waiting.map((request) => request.id),
      ),
      deliver(
        testEnv,
        'otp-send',
        checked.map(({ id }) => statusCheck(id, 1)),
      ),
    ]);
    for (const { id } of checked) expect((await requestRow(id)).delivery_status).toBe('delivered');
    for (const { id } of waiting) expect((await requestRow(id)).status).toBe('sent');

    const sendStarts = await Promise.all([...checked, ...waiting].map(async ({ id }) => (await attemptRows(id)).map((row) => row.started_at as number)));
    const checkStarts = await Promise.all(checked.map(({ id }) => checkedAt(id)));
    const starts = [...sendStarts.flat(), ...checkStarts];
    expect(starts).toHaveLength(6);
    expect(mostInOneSecond(starts)).toBe(2);
  });
});

describe('status check policy', () => {
  it('backs off exponentially from the base, capped at an hour', () => {
    expect([1, 2, 3, 4, 5, 6].map((check) => statusCheckDelaySeconds(check, SETTINGS))).toEqual([30, 60, 120, 240, 480, 960]);
    expect(statusCheckDelaySeconds(12, SETTINGS)).toBe(3600);
  });

  it('stops at maxChecks', () => {
    const pending = { kind: 'report', httpStatus: 200, status: 'queued', deliveredAt: null, errorMessage: null } as const;
    expect(planAfterCheck(pending, 5, SETTINGS)).toMatchObject({ deliveryStatus: 'pending', nextCheckSeconds: 960 });
    expect(planAfterCheck(pending, 6, SETTINGS)).toMatchObject({ deliveryStatus: 'unknown', nextCheckSeconds: null });
  });
});

describe('sandbox delivery reports', () => {
  it('reports what the sandbox sent as delivered, the undeliverable number as failed, anything else as unknown', async () => {
    const now = Date.now();
    await env.DB.prepare(
      `INSERT INTO sandbox_messages (idempotency_key, message_id, request_id, phone_number, created_at)
       VALUES ('k1', 'sbx_ok', 'otp_x', '+919800000123', ?1), ('k2', 'sbx_bad', 'otp_y', ?2, ?1)`,
    )
      .bind(now, SANDBOX_MAGIC_NUMBERS.undeliverable)
      .run();
    const source = new SandboxProvider(env.DB);
    expect(await source.messageStatus('sbx_ok')).toMatchObject({ kind: 'report', status: 'delivered' });
    expect(await source.messageStatus('sbx_bad')).toMatchObject({ kind: 'report', status: 'failed' });
    expect(await source.messageStatus('sbx_none')).toMatchObject({ kind: 'permanent', errorCode: 'provider_message_not_found' });
  });
});
