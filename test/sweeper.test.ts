import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../src/config';
import { QUEUE_BATCH_TIMEOUT_MS, stallGraceMs, sweep } from '../src/cron/sweeper';
import { claimRequests } from '../src/db/delivery-attempts';
import worker from '../src/index';
import { statusCheck, statusChecks } from '../src/queue/messages';
import wranglerToml from '../wrangler.toml?raw';
import { withKey } from './support/apps';
import { elapse, retireOtherRequests } from './support/elapse';
import { recordingQueue as refusingQueue } from './support/faults';
import { PROVIDER_URL, requestRow, SEND_ROUTE, STATUS_ROUTE, seedRequest, startMessagingEnv, uniquePhone } from './support/fixtures';
import { interceptOrigin, json } from './support/outbound';
import { deliver, deliverSendJobs } from './support/queue';
import { recordingQueue, withQueue } from './support/recording-queue';
import { fetchWithEnv } from './support/worker';

/** The grace at the test env's settings (8 s provider timeout, 20/s, 300 s codes): 19.75 s. */
const GRACE_MS = stallGraceMs(loadConfig(env));

function postOtp(testEnv: Env): Promise<Response> {
  return fetchWithEnv(
    new Request('https://otp.test/v1/otp', {
      method: 'POST',
      headers: withKey({ 'content-type': 'application/json' }),
      body: JSON.stringify({ phoneNumber: uniquePhone() }),
    }),
    testEnv,
  );
}

/** Runs the sweeper with a recorded queue; returns the summary and what it enqueued. */
async function sweepRecorded(testEnv: Env = env) {
  const queue = recordingQueue();
  const summary = await sweep(withQueue(queue.binding, testEnv));
  return { summary, bodies: queue.messages.map((message) => message.body) };
}

const sendJobFor = (requestId: string) => ({ type: 'send', v: 1, requestId });

beforeEach(retireOtherRequests);

describe('how long the sweeper waits', () => {
  it('a job may be late by the queue’s batch timeout, the pacing horizon and a provider timeout, plus 5 s: 19.75 s at the defaults', () => {
    expect(GRACE_MS).toBe(1000 + 5750 + 8000 + 5000);
    expect(stallGraceMs(loadConfig(startMessagingEnv()))).toBe(1000 + 5750 + 500 + 5000);
  });

  it('at most a quarter of the code’s lifetime, so a short-lived code is recovered while it is valid', () => {
    expect(stallGraceMs(loadConfig({ ...env, OTP_TTL_SECONDS: '60' } as Env))).toBe(15_000);
  });

  it('QUEUE_BATCH_TIMEOUT_MS is the send queue’s max_batch_timeout in every environment of wrangler.toml', () => {
    const timeouts = [...wranglerToml.matchAll(/queues\.consumers\]\]\nqueue = "otp-send"\n(?:.*\n)*?max_batch_timeout = (\d+)/g)].map(
      (match) => Number(match[1]) * 1000,
    );
    expect(timeouts).toEqual([QUEUE_BATCH_TIMEOUT_MS, QUEUE_BATCH_TIMEOUT_MS]);
  });
});

describe('the enqueue mark written by POST /v1/otp', () => {
  it('is written with the request when its job reaches the queue; the job is taken for lost only after the grace', async () => {
    const queue = recordingQueue();
    const response = await postOtp(withQueue(queue.binding));
    expect(response.status).toBe(202);
    const { requestId } = await response.json<{ requestId: string }>();
    const row = await requestRow(requestId);
    expect(row.enqueued_at).toBe(row.created_at);
    expect(queue.messages).toEqual([{ body: sendJobFor(requestId), delaySeconds: undefined }]);
    // Still on its way (a batch, a send time): left to the queue.
    await elapse(GRACE_MS - 1000, [requestId]);
    expect((await sweepRecorded()).bodies).toEqual([]);
    // Nothing happened to it since: the job is lost (a restart, say), and enqueued again.
    await elapse(1000, [requestId]);
    expect((await sweepRecorded()).bodies).toEqual([sendJobFor(requestId)]);
  });

  it('is cleared when the queue refuses the job, so the sweeper enqueues it', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const response = await postOtp({ ...env, SEND_QUEUE: refusingQueue({ fail: true }).queue } as Env);
    expect(response.status).toBe(202);
    const { requestId } = await response.json<{ requestId: string }>();
    expect((await requestRow(requestId)).enqueued_at).toBeNull();
    expect(error.mock.calls.map((call) => String(call[0]))).toEqual([expect.stringContaining('request.enqueue_failed')]);
    error.mockRestore();

    await elapse(GRACE_MS, [requestId]);
    const { summary, bodies } = await sweepRecorded();
    expect(summary.reenqueued).toBe(1);
    expect(bodies).toEqual([sendJobFor(requestId)]);
  });
});

describe('sweeper (cron): send jobs', () => {
  it('re-enqueues a queued request with no sign of life for the grace, then marks it and waits the grace again', async () => {
    const { id } = await seedRequest();
    await elapse(GRACE_MS, [id]);
    expect((await sweepRecorded()).bodies).toEqual([sendJobFor(id)]);
    expect((await requestRow(id)).enqueued_at).toBeGreaterThan((await requestRow(id)).created_at);
    // Marked: the job just enqueued gets its own grace.
    expect((await sweepRecorded()).bodies).toEqual([]);
    await elapse(GRACE_MS, [id]);
    expect((await sweepRecorded()).bodies).toEqual([sendJobFor(id)]);
  });

  it('recovers more than a queue batch of lost jobs in one run (a crash under load), each marked', async () => {
    const requests = await Promise.all(Array.from({ length: 150 }, () => seedRequest()));
    const ids = requests.map((request) => request.id);
    await elapse(GRACE_MS, ids);
    const { summary, bodies } = await sweepRecorded();
    expect(summary.reenqueued).toBe(150);
    expect(new Set(bodies.map((body) => (body as { requestId: string }).requestId))).toEqual(new Set(ids));
    expect((await sweepRecorded()).bodies).toEqual([]);
  });

  it('leaves young requests alone', async () => {
    const { id } = await seedRequest();
    expect((await sweepRecorded()).bodies).toEqual([]);
    expect((await requestRow(id)).enqueued_at).toBeNull();
  });

  it('waits for a retry its last attempt scheduled (a provider Retry-After) before taking its job for lost', async () => {
    const { id } = await seedRequest();
    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => json(429, {}, { 'Retry-After': '120' }) });
    const { result } = await deliverSendJobs(startMessagingEnv(), [id]);
    expect(result.retryMessages[0]!.delaySeconds).toBe(120);
    expect(await requestRow(id)).toMatchObject({ status: 'queued', attempts: 1 });
    await elapse(120_000 + GRACE_MS - 1000, [id]);
    expect((await sweepRecorded()).bodies).toEqual([]);
    await elapse(1000, [id]);
    expect((await sweepRecorded()).bodies).toEqual([sendJobFor(id)]);
  });

  it('re-enqueues a sending request once its lease has lapsed by the grace: its claimant died', async () => {
    const { id } = await seedRequest();
    const leaseMs = 30_000;
    expect((await claimRequests(env.DB, [id], Date.now(), leaseMs)).has(id)).toBe(true);
    // The claimant may still be working until its lease ends.
    await elapse(leaseMs + GRACE_MS - 1000, [id]);
    expect((await sweepRecorded()).bodies).toEqual([]);
    await elapse(1000, [id]);
    expect((await sweepRecorded()).bodies).toEqual([sendJobFor(id)]);
  });

  it('ends queued requests whose code expired', async () => {
    const { id } = await seedRequest();
    await env.DB.prepare('UPDATE otp_requests SET expires_at = ? WHERE id = ?')
      .bind(Date.now() - 1, id)
      .run();
    const { summary, bodies } = await sweepRecorded();
    expect(summary.expired).toBe(1);
    expect(bodies).toEqual([]);
    expect(await requestRow(id)).toMatchObject({ status: 'expired', last_error_code: 'expired_before_delivery' });
  });

  it('runs from the scheduled handler', async () => {
    const { id } = await seedRequest();
    await env.DB.prepare('UPDATE otp_requests SET expires_at = ? WHERE id = ?')
      .bind(Date.now() - 1, id)
      .run();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '* * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect((await requestRow(id)).status).toBe('expired');
  });
});

describe('sweeper (cron): delivery status checks', () => {
  /** A request sent through the real path; its first status check message is dropped (lost). */
  async function sentRequest(messageId: string) {
    const { id } = await seedRequest();
    const queue = recordingQueue();
    interceptOrigin(PROVIDER_URL, {
      [SEND_ROUTE]: () => json(201, { success: true, data: { messageId } }),
      [STATUS_ROUTE]: () => json(200, { data: { status: 'queued' } }),
    });
    await deliverSendJobs(withQueue(queue.binding, startMessagingEnv()), [id]);
    expect(queue.take().map((message) => message.body)).toEqual([statusChecks([{ requestId: id, check: 1 }])]);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', delivery_status: null, delivery_checks: 0 });
    return { id, queue };
  }

  it('a sent request whose first check is overdue by the grace gets it back; not before', async () => {
    const { id } = await sentRequest('msg_first');
    // The first check is due 30 s (DELIVERY_CHECK_BASE_SECONDS) after the send.
    await elapse(30_000 + GRACE_MS - 1000, [id]);
    expect((await sweepRecorded()).bodies).toEqual([]);
    await elapse(1000, [id]);
    const { summary, bodies } = await sweepRecorded();
    expect(bodies).toEqual([statusCheck(id, 1)]);
    expect(summary.checksRescheduled).toBe(1);
  });

  it('a chain that stalled after a pending report gets its next check back once that is overdue', async () => {
    const { id, queue } = await sentRequest('msg_pending');
    await deliver(withQueue(queue.binding, startMessagingEnv()), 'otp-send', [statusCheck(id, 1)]);
    // The provider said "queued": check 2 was scheduled 60 s later, and that message is lost.
    expect(queue.take()).toEqual([{ body: statusCheck(id, 2), delaySeconds: 60 }]);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', delivery_status: 'pending', delivery_checks: 1 });
    await elapse(60_000 + GRACE_MS - 1000, [id]);
    expect((await sweepRecorded()).bodies).toEqual([]);
    await elapse(1000, [id]);
    expect((await sweepRecorded()).bodies).toEqual([statusCheck(id, 2)]);
  });

  it('leaves alone a request whose delivery is known, one that has had every check, and one with no message id', async () => {
    const delivered = await sentRequest('msg_known');
    await env.DB.prepare("UPDATE otp_requests SET status = 'delivered', delivery_status = 'delivered' WHERE id = ?").bind(delivered.id).run();
    const exhausted = await sentRequest('msg_all_checks');
    await env.DB.prepare("UPDATE otp_requests SET delivery_status = 'unknown', delivery_checks = 6 WHERE id = ?").bind(exhausted.id).run();
    const anonymous = await sentRequest('msg_none');
    await env.DB.prepare('UPDATE otp_requests SET provider_message_id = NULL WHERE id = ?').bind(anonymous.id).run();
    await elapse(10 * 60_000, [delivered.id, exhausted.id, anonymous.id]);
    expect((await sweepRecorded()).bodies).toEqual([]);
  });

  it('schedules nothing when delivery reports are off (DELIVERY_CHECK_MAX=0)', async () => {
    const { id } = await sentRequest('msg_off');
    await elapse(10 * 60_000, [id]);
    expect((await sweepRecorded({ ...env, DELIVERY_CHECK_MAX: '0' } as Env)).bodies).toEqual([]);
    expect((await sweepRecorded()).bodies).toEqual([statusCheck(id, 1)]);
  });
});
