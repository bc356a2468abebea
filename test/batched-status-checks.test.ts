import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { deriveCode } from '../src/codes';
import { type StatusChecks, statusCheck, statusChecks } from '../src/queue/messages';
import { withKey } from './support/apps';
import { checkRows, provider, reportEnv, sentTogether, statusAnswer } from './support/delivery-reports';
import { recordingQueue as faultyQueue } from './support/faults';
import { requestRow, TEST_OTP_SECRET } from './support/fixtures';
import { withOwnPacer, withScriptedPacer } from './support/pacer';
import { deliver } from './support/queue';
import { withQueue } from './support/recording-queue';
import { fetchWithEnv } from './support/worker';

/**
 * The first status checks of one send batch travel as one `status_checks` message; delivered, it
 * runs each check as a `status_check` of its own would run.
 */

/** Three requests sent in one batch, and the one first-check message that batch enqueued. */
async function firstChecksOfOneBatch(overrides: Record<string, string> = {}) {
  const { queue, testEnv: base } = reportEnv(overrides);
  const { testEnv, pacer } = withOwnPacer(base);
  const sent = await sentTogether(testEnv, 3);
  const queued = queue.take();
  expect(queued).toHaveLength(1);
  const body = queued[0]!.body as StatusChecks;
  expect(body.type).toBe('status_checks');
  return { queue, testEnv, pacer, sent, body };
}

const askedFor = (gets: () => Array<{ params: Record<string, string> }>) =>
  gets()
    .map((call) => call.params.messageId!)
    .sort();

describe('a status_checks message', () => {
  it('runs every check it holds: the provider is asked once per request, each check recorded, a follow-up goes alone', async () => {
    const { queue, testEnv, sent, body } = await firstChecksOfOneBatch();
    const slow = sent[2]!;
    const gets = provider((call) => statusAnswer(call.params.messageId === slow.messageId ? 'queued' : 'delivered'));
    const { ids, result } = await deliver(testEnv, 'otp-send', [body]);

    expect(result.explicitAcks).toEqual(ids);
    expect(result.retryMessages).toEqual([]);
    expect(askedFor(gets)).toEqual(sent.map((request) => request.messageId).sort());
    for (const { id } of sent.slice(0, 2)) {
      expect(await requestRow(id)).toMatchObject({ status: 'delivered', delivery_status: 'delivered', delivery_checks: 1 });
      expect(await checkRows(id)).toEqual([expect.objectContaining({ check_number: 1, outcome: 'delivered', next_check_seconds: null })]);
    }
    expect(await requestRow(slow.id)).toMatchObject({ status: 'sent', delivery_status: 'pending', delivery_checks: 1 });
    expect(await checkRows(slow.id)).toEqual([expect.objectContaining({ check_number: 1, outcome: 'pending', next_check_seconds: 60 })]);
    expect(queue.take()).toEqual([{ body: statusCheck(slow.id, 2), delaySeconds: 60 }]);
  });

  it('a request verified meanwhile is skipped without a provider call; the others are asked', async () => {
    const { queue, testEnv, sent, body } = await firstChecksOfOneBatch();
    const verified = sent[0]!;
    const answer = await fetchWithEnv(
      new Request(`https://otp.test/v1/otp/${verified.id}/verify`, {
        method: 'POST',
        headers: withKey({ 'Content-Type': 'application/json' }),
        body: JSON.stringify({ code: await deriveCode(TEST_OTP_SECRET, verified.id, 6) }),
      }),
      testEnv,
    );
    expect(answer.status).toBe(200);
    const gets = provider(() => statusAnswer('delivered'));
    const { ids, result } = await deliver(testEnv, 'otp-send', [body]);

    expect(result.explicitAcks).toEqual(ids);
    expect(askedFor(gets)).toEqual(
      sent
        .slice(1)
        .map((request) => request.messageId)
        .sort(),
    );
    expect(await checkRows(verified.id)).toEqual([]);
    expect(await requestRow(verified.id)).toMatchObject({ status: 'verified', delivery_status: 'delivered' });
    for (const { id } of sent.slice(1)) expect(await requestRow(id)).toMatchObject({ status: 'delivered' });
    expect(queue.take()).toEqual([]);
  });

  it('checks the pacer refuses come back as status_check messages with its delay, and the batch is acked', async () => {
    const { queue, testEnv, pacer, sent, body } = await firstChecksOfOneBatch({ PROVIDER_RATE_PER_SECOND: '20' });
    // Other work holds every time of the next 20 s, well past the 5.75 s horizon.
    const { nextFreeAt } = await pacer.reserve({ count: 1000, ratePerSecond: 20, horizonMs: 20_000 });
    const gets = provider(() => statusAnswer('delivered'));
    const before = Date.now();
    const { ids, result } = await deliver(testEnv, 'otp-send', [body]);
    const after = Date.now();

    expect(result.explicitAcks).toEqual(ids);
    expect(result.retryMessages).toEqual([]);
    expect(gets()).toEqual([]);
    const back = queue.take();
    expect(back.map((message) => message.body)).toEqual(expect.arrayContaining(sent.map(({ id }) => statusCheck(id, 1))));
    expect(back).toHaveLength(3);
    for (const { delaySeconds } of back) {
      expect(delaySeconds).toBeGreaterThanOrEqual(Math.ceil((nextFreeAt - after) / 1000));
      expect(delaySeconds).toBeLessThanOrEqual(Math.ceil((nextFreeAt - before) / 1000));
    }
    for (const { id } of sent) expect(await checkRows(id)).toEqual([]);
  });

  it('when the refused checks cannot be re-enqueued the whole message is retried, and its redelivery asks nothing twice', async () => {
    const { testEnv, sent, body } = await firstChecksOfOneBatch();
    const gets = provider(() => statusAnswer('delivered'));
    // The pacer has one time now and none for the other two; the queue refuses every message.
    const { testEnv: refusing } = withScriptedPacer(withQueue(faultyQueue({ fail: true }).queue, testEnv), (_input, callIndex) =>
      callIndex === 0 ? { slots: [Date.now()], nextFreeAt: Date.now() + 50 } : { slots: [], nextFreeAt: Date.now() + 5000 },
    );
    const first = await deliver(refusing, 'otp-send', [body]);
    expect(first.result.explicitAcks).toEqual([]);
    expect(first.result.retryMessages).toEqual([{ msgId: first.ids[0], delaySeconds: 30 }]);
    expect(gets()).toHaveLength(1);

    const again = await deliver(testEnv, 'otp-send', [body], 2);
    expect(again.result.explicitAcks).toEqual(again.ids);
    expect(askedFor(gets)).toEqual(sent.map((request) => request.messageId).sort());
    for (const { id } of sent) expect(await checkRows(id)).toEqual([expect.objectContaining({ check_number: 1, outcome: 'delivered' })]);
  });

  it('redelivered after it ran, it is acked without asking the provider or scheduling anything again', async () => {
    const { queue, testEnv, sent, body } = await firstChecksOfOneBatch();
    const gets = provider(() => statusAnswer('queued'));
    await deliver(testEnv, 'otp-send', [body]);
    expect(queue.take()).toHaveLength(3);
    const again = await deliver(testEnv, 'otp-send', [body], 2);
    expect(again.result.explicitAcks).toEqual(again.ids);
    expect(gets()).toHaveLength(3);
    expect(queue.take()).toEqual([]);
    for (const { id } of sent) expect(await checkRows(id)).toHaveLength(1);
  });

  it('dead-lettered, it records one dead letter per request it held; no request is failed for it', async () => {
    const { sent, body } = await firstChecksOfOneBatch();
    const { ids, result } = await deliver(env, 'otp-send-dlq', [body]);
    expect(result.explicitAcks).toEqual(ids);
    const { results } = await env.DB.prepare('SELECT request_id, reason FROM dead_letters WHERE message_id = ?1 ORDER BY request_id').bind(ids[0]).all();
    expect(results).toEqual(
      sent
        .map(({ id }) => id)
        .sort()
        .map((id) => ({ request_id: id, reason: 'status_check_retries_exhausted' })),
    );
    for (const { id } of sent) expect((await requestRow(id)).status).toBe('sent');
  });

  it('a malformed one is dead-lettered with its reason and acked, never run and never thrown', async () => {
    const { sent } = await firstChecksOfOneBatch();
    const good = { requestId: sent[0]!.id, check: 1 };
    const bodies = [
      { type: 'status_checks', v: 1, checks: [] },
      { type: 'status_checks', v: 1, checks: Array.from({ length: 101 }, () => good) },
      { type: 'status_checks', v: 1, checks: [good, { requestId: '+919876543210', check: 1 }] },
      { type: 'status_checks', v: 1, checks: [{ ...good, check: 0 }] },
      { type: 'status_checks', v: 2, checks: [good] },
      { type: 'status_checks', v: 1 },
      { ...statusChecks([good]), checks: 'all' },
    ];
    const deadLetters = faultyQueue();
    // No provider route is registered: a check that ran would be an unexpected call.
    const { ids, result } = await deliver({ ...env, DEAD_LETTER_QUEUE: deadLetters.queue } as Env, 'otp-send', bodies);
    expect(result.explicitAcks).toEqual(ids);
    expect(result.retryMessages).toEqual([]);
    expect(deadLetters.sent).toEqual(
      ids.map((id) => ({ body: { type: 'rejected', v: 1, sourceMessageId: id, reason: expect.any(String) }, delaySeconds: undefined })),
    );
    expect(JSON.stringify(deadLetters.sent)).not.toContain('9876543210');
    expect(await checkRows(good.requestId)).toEqual([]);
  });
});
