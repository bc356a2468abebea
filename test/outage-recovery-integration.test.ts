import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { providerIdempotencyKey } from '../src/ids';
import type { SendJob, StatusChecks } from '../src/queue/messages';
import { ADMIN_TOKEN, adminFetch, adminJson } from './support/admin';
import { withKey } from './support/apps';
import { insertRequestRow } from './support/audit-seed';
import { PROVIDER_URL, requestRow, SEND_ROUTE, STATUS_ROUTE, startMessagingEnv, uniquePhone } from './support/fixtures';
import { interceptOrigin, json, type RecordedCall } from './support/outbound';
import { deliver } from './support/queue';
import { recordingQueue, withQueue } from './support/recording-queue';

/**
 * The operator story end to end: the provider goes down, every send fails, codes expire or run out
 * of retries; the provider comes back; a dry run counts the damage; one resend delivers exactly one
 * new SMS per phone that still needs one; the admin API shows all of it.
 */
describe('recovering from a provider outage with one bulk resend', () => {
  it('counts the failed and expired requests, then sends exactly one new SMS per phone', async () => {
    const startedAt = Date.now() - 1000;
    const queue = recordingQueue();
    const testEnv = withQueue(queue.binding, startMessagingEnv({ ADMIN_TOKEN, DELIVERY_CHECK_MAX: '3' }));
    let providerUp = false;
    let messageCounter = 0;
    const maintenance = () => json(503, { success: false, error: { message: 'maintenance' } });
    const calls = interceptOrigin(PROVIDER_URL, {
      [SEND_ROUTE]: () => (providerUp ? json(201, { success: true, data: { messageId: `msg_${++messageCounter}`, status: 'queued' } }) : maintenance()),
      [STATUS_ROUTE]: () => (providerUp ? json(200, { data: { status: 'delivered' } }) : maintenance()),
    });
    const sends = (list: RecordedCall[]) => list.filter((call) => call.route === SEND_ROUTE);

    // Five users ask for codes during the outage.
    const phones = Array.from({ length: 5 }, () => uniquePhone());
    const original = new Map<string, string>();
    for (const phoneNumber of phones) {
      // The app asks with its own key (adminFetch keeps an Authorization it is given).
      const response = await adminFetch('/v1/otp', { method: 'POST', headers: withKey(), body: JSON.stringify({ phoneNumber }) }, testEnv);
      expect(response.status).toBe(202);
      original.set(phoneNumber, (await response.json<{ requestId: string }>()).requestId);
    }
    const jobs = queue.take().map((m) => m.body as SendJob);
    expect(jobs).toHaveLength(5);

    // Every send fails and is retried with backoff ...
    const firstTry = await deliver(testEnv, 'otp-send', jobs);
    expect(firstTry.result.retryMessages).toHaveLength(5);
    // ... until, for two of them, the code's lifetime is over, and the other three run out of retries.
    const [a, b, c, d, e] = phones.map((phone) => original.get(phone)!) as [string, string, string, string, string];
    await env.DB.prepare('UPDATE otp_requests SET expires_at = ?1 WHERE id IN (?2, ?3)')
      .bind(Date.now() - 1, a, b)
      .run();
    await deliver(testEnv, 'otp-send', jobs.slice(0, 2), 2);
    await deliver(testEnv, 'otp-send-dlq', jobs.slice(2), 11);
    expect(await Promise.all([a, b, c, d, e].map(async (id) => (await requestRow(id)).status))).toEqual(['expired', 'expired', 'failed', 'failed', 'failed']);
    // The fifth user got a code some other way later and verified it: nothing to resend there.
    await insertRequestRow({ phoneNumber: phones[4]!, createdAt: Date.now(), status: 'verified', verifiedAt: Date.now() });
    const outageCalls = sends(calls).length;
    expect(outageCalls).toBe(5);

    // The operator sees the outage.
    const stats = await adminJson<{ requests: { byStatus: Record<string, number> }; topErrors: Array<{ code: string; count: number }> }>(
      `/v1/admin/stats?since=${startedAt}`,
      {},
      testEnv,
    );
    expect(stats.body.requests.byStatus).toMatchObject({ expired: 2, failed: 3, verified: 1 });
    expect(stats.body.topErrors[0]).toMatchObject({ code: 'provider_unavailable' });

    // The provider is back. Dry run first: it counts the failed and expired requests, and changes nothing.
    providerUp = true;
    const filter = { status: ['failed', 'expired'], since: new Date(startedAt).toISOString() };
    const dry = await adminJson<{ matched: number; phones: number }>(
      '/v1/admin/resends',
      { method: 'POST', body: JSON.stringify({ filter, dryRun: true }) },
      testEnv,
    );
    expect(dry.body).toEqual({ dryRun: true, matched: 5, phones: 5 });
    expect(queue.messages).toEqual([]);

    // The resend itself.
    const run = await adminJson<{ resendId: string; statusUrl: string }>('/v1/admin/resends', { method: 'POST', body: JSON.stringify({ filter }) }, testEnv);
    expect(run.status).toBe(202);
    const fanout = queue.take();
    expect(fanout).toHaveLength(1);
    await deliver(testEnv, 'otp-send', [fanout[0]!.body]);
    // Queues deliver at least once: the fan-out step arrives again, and changes nothing.
    await deliver(testEnv, 'otp-send', [fanout[0]!.body], 2);
    const resendSends = queue.take();
    expect(resendSends.map((m) => (m.body as { type: string }).type)).toEqual(['send', 'send', 'send', 'send']);

    // The consumer sends them (and a redelivered batch sends nothing twice).
    const sendBodies = resendSends.map((m) => m.body as SendJob);
    await deliver(testEnv, 'otp-send', sendBodies);
    await deliver(testEnv, 'otp-send', sendBodies, 2);
    const recovery = sends(calls).slice(outageCalls);
    expect(recovery).toHaveLength(4);
    const sentTo = recovery.map((call) => (call.body as { phoneNumber: string }).phoneNumber).sort();
    expect(sentTo).toEqual(phones.slice(0, 4).sort());
    for (const call of recovery) {
      // A new request, so a new idempotency key (and a new code), never the failed one's.
      const key = (call.body as { idempotencyKey: string }).idempotencyKey;
      expect(key).not.toBe(providerIdempotencyKey(original.get((call.body as { phoneNumber: string }).phoneNumber)!));
    }

    const job = await adminJson<{ matched: number; enqueued: number; done: boolean; skipped: { byReason: Record<string, number> } }>(
      new URL(run.body.statusUrl).pathname,
      {},
      testEnv,
    );
    expect(job.body).toMatchObject({ matched: 5, enqueued: 4, done: true, skipped: { byReason: { verified_since: 1 } } });

    // Delivery reports come in for the new messages: their first checks in one message, sent together.
    const checks = queue.take().map((m) => m.body);
    expect(checks).toEqual([{ type: 'status_checks', v: 1, checks: expect.any(Array) }]);
    expect((checks[0] as StatusChecks).checks).toHaveLength(4);
    await deliver(testEnv, 'otp-send', checks);
    const resent = await adminJson<{ requests: Array<{ status: string; origin: string; replacesRequestId: string; phoneNumber: string }> }>(
      `/v1/admin/requests?resendId=${run.body.resendId}`,
      {},
      testEnv,
    );
    expect(resent.body.requests).toHaveLength(4);
    for (const request of resent.body.requests) {
      expect(request).toMatchObject({ status: 'delivered', origin: 'operator_resend' });
      expect(request.replacesRequestId).toBe(original.get(request.phoneNumber));
    }
    const after = await adminJson<{ delivery: { delivered: number; successRate: number } }>(`/v1/admin/stats?since=${startedAt}`, {}, testEnv);
    expect(after.body.delivery).toMatchObject({ delivered: 4, successRate: 1 });
  });
});
