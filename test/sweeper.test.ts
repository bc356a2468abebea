import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ORPHAN_AFTER_MS, sweep } from '../src/consumer/sweeper';
import { requestRow, seedRequest } from './support/fixtures';
import worker from '../src/index';

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
