import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { ORPHAN_AFTER_MS, sweep } from '../src/consumer/sweeper';
import { recordingQueue } from './support/faults';
import { requestRow, seedRequest, uniquePhone } from './support/fixtures';
import { fetchWithEnv } from './support/worker';
import worker from '../src/index';

function postOtp(testEnv: Env): Promise<Response> {
  return fetchWithEnv(
    new Request('https://otp.test/v1/otp', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phoneNumber: uniquePhone() }),
    }),
    testEnv,
  );
}

describe('the enqueue mark written by POST /v1/otp', () => {
  it('is written with the request when its job reaches the queue', async () => {
    const queue = recordingQueue();
    const response = await postOtp({ ...env, SEND_QUEUE: queue.queue } as Env);
    expect(response.status).toBe(202);
    const { requestId } = await response.json<{ requestId: string }>();
    const row = await requestRow(requestId);
    expect(row.enqueued_at).toBe(row.created_at);
    expect(queue.sent).toEqual([{ body: { type: 'send', v: 1, requestId }, delaySeconds: undefined }]);
    // Marked: the sweeper leaves it to the queue, however old it gets.
    await env.DB.prepare('UPDATE otp_requests SET created_at = ? WHERE id = ?').bind(Date.now() - ORPHAN_AFTER_MS - 1, requestId).run();
    expect((await sweep(env)).reenqueued).toBe(0);
  });

  it('is cleared when the queue refuses the job, so the sweeper enqueues it later', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const response = await postOtp({ ...env, SEND_QUEUE: recordingQueue({ fail: true }).queue } as Env);
    expect(response.status).toBe(202);
    const { requestId } = await response.json<{ requestId: string }>();
    expect((await requestRow(requestId)).enqueued_at).toBeNull();
    expect(error.mock.calls.map((call) => String(call[0]))).toEqual([expect.stringContaining('request.enqueue_failed')]);
    error.mockRestore();

    await env.DB.prepare('UPDATE otp_requests SET created_at = ? WHERE id = ?').bind(Date.now() - ORPHAN_AFTER_MS - 1, requestId).run();
    const queue = recordingQueue();
    expect((await sweep({ ...env, SEND_QUEUE: queue.queue } as Env)).reenqueued).toBe(1);
    expect(queue.sent.map((message) => message.body)).toEqual([{ type: 'send', v: 1, requestId }]);
  });
});

describe('sweeper (cron)', () => {
  it('re-enqueues a request whose job never reached the queue', async () => {
    const { id } = await seedRequest();
    await env.DB.prepare('UPDATE otp_requests SET created_at = ? WHERE id = ?').bind(Date.now() - ORPHAN_AFTER_MS - 1, id).run();
    const summary = await sweep(env);
    expect(summary.reenqueued).toBe(1);
    expect((await requestRow(id)).enqueued_at).not.toBeNull();
    // Marked: the next sweep leaves it alone.
    expect((await sweep(env)).reenqueued).toBe(0);
  });

  it('leaves young and already-enqueued requests alone', async () => {
    const young = await seedRequest();
    const enqueued = await seedRequest();
    await env.DB.prepare('UPDATE otp_requests SET created_at = ?, enqueued_at = ? WHERE id = ?')
      .bind(Date.now() - 120_000, Date.now() - 120_000, enqueued.id)
      .run();
    expect((await sweep(env)).reenqueued).toBe(0);
    expect((await requestRow(young.id)).enqueued_at).toBeNull();
  });

  it('ends queued requests whose code expired', async () => {
    const { id } = await seedRequest();
    await env.DB.prepare('UPDATE otp_requests SET expires_at = ? WHERE id = ?').bind(Date.now() - 1, id).run();
    expect((await sweep(env)).expired).toBe(1);
    expect(await requestRow(id)).toMatchObject({ status: 'expired', last_error_code: 'expired_before_delivery' });
  });

  it('runs from the scheduled handler', async () => {
    const { id } = await seedRequest();
    await env.DB.prepare('UPDATE otp_requests SET expires_at = ? WHERE id = ?').bind(Date.now() - 1, id).run();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '* * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect((await requestRow(id)).status).toBe('expired');
  });
});
