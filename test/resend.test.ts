import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../src/config';
import { prefixBlocksFor } from '../src/limiter/prefix-blocks';
import type { ResendFanout } from '../src/queue/messages';
import { handleResendFanouts } from '../src/resend/fanout';
import { RESEND_STALLED_AFTER_MS, reviveStalledResends } from '../src/resend/revival';
import { adminFetch, adminJson } from './support/admin';
import { TEST_APP, withKey } from './support/apps';
import { insertRequestRow, privateWindow } from './support/audit-seed';
import { requestRow, uniquePhone } from './support/fixtures';
import { deliver } from './support/queue';
import { type QueuedMessage, recordingQueue, withQueue } from './support/recording-queue';

type ErrorBody = { error: { code: string; message: string } };
interface Job {
  resendId: string;
  done: boolean;
  matched: number;
  enqueued: number;
  pagesDone: number;
  skipped: { total: number; byReason: Record<string, number> };
}

const iso = (ms: number) => new Date(ms).toISOString();

function resendEnv(overrides: Record<string, string> = {}) {
  const queue = recordingQueue();
  return { queue, testEnv: withQueue(queue.binding, { ...env, ...overrides } as Env) };
}

async function postResend(testEnv: Env, body: unknown) {
  return adminJson<{ resendId: string; matched: number; phones: number; statusUrl: string; dryRun?: true }>(
    '/v1/admin/resends',
    { method: 'POST', body: JSON.stringify(body) },
    testEnv,
  );
}

/** Delivers fan-out steps as the queue would until the job is done; returns the send jobs it enqueued, per step. */
async function runFanout(testEnv: Env, queue: ReturnType<typeof recordingQueue>) {
  const steps: Array<{ sends: QueuedMessage[]; next: QueuedMessage | undefined }> = [];
  let pending = queue.take().filter((m) => (m.body as { type: string }).type === 'resend_fanout');
  while (pending.length > 0 && steps.length < 20) {
    const { ids, result } = await deliver(
      testEnv,
      'otp-send',
      pending.map((m) => m.body),
    );
    expect(result.explicitAcks).toEqual(ids);
    const queued = queue.take();
    const next = queued.filter((m) => (m.body as { type: string }).type === 'resend_fanout');
    steps.push({ sends: queued.filter((m) => (m.body as { type: string }).type === 'send'), next: next[0] });
    pending = next;
  }
  return steps;
}

async function jobView(resendId: string) {
  const { status, body } = await adminJson<Job>(`/v1/admin/resends/${resendId}`);
  expect(status).toBe(200);
  return body;
}

async function resendRequests(resendId: string) {
  const { results } = await env.DB.prepare('SELECT * FROM otp_requests WHERE resend_id = ? ORDER BY phone_number')
    .bind(resendId)
    .all<Record<string, unknown>>();
  return results;
}

describe('POST /v1/admin/resends dry run', () => {
  it('counts the matching requests and phones, and changes nothing', async () => {
    const { since, until } = privateWindow();
    const [p1, p2, p3] = [uniquePhone(), uniquePhone(), uniquePhone()];
    await insertRequestRow({ phoneNumber: p1, createdAt: since + 1, status: 'failed' });
    await insertRequestRow({ phoneNumber: p1, createdAt: since + 2, status: 'expired' });
    await insertRequestRow({ phoneNumber: p2, createdAt: since + 3, status: 'failed' });
    const third = await insertRequestRow({ phoneNumber: p3, createdAt: since + 4, status: 'expired' });
    await insertRequestRow({ phoneNumber: p3, createdAt: since + 5, status: 'sent' });
    await insertRequestRow({ phoneNumber: p3, createdAt: since + 6, status: 'verified' });
    await insertRequestRow({ phoneNumber: p2, createdAt: until, status: 'failed' });
    const { queue, testEnv } = resendEnv();
    const window = { since: iso(since), until: iso(until) };
    const before = (await env.DB.prepare('SELECT COUNT(*) AS n FROM otp_requests').first<{ n: number }>())!.n;

    expect((await postResend(testEnv, { filter: { status: ['failed', 'expired'], ...window }, dryRun: true })).body).toEqual({
      dryRun: true,
      matched: 4,
      phones: 3,
    });
    expect((await postResend(testEnv, { filter: { status: 'failed', ...window }, dryRun: true })).body).toMatchObject({ matched: 2, phones: 2 });
    expect((await postResend(testEnv, { filter: { status: ['sent'], ...window }, dryRun: true })).body).toMatchObject({ matched: 1 });
    expect((await postResend(testEnv, { filter: { status: ['failed', 'expired'], ...window, phoneNumbers: [p1] }, dryRun: true })).body).toMatchObject({
      matched: 2,
      phones: 1,
    });
    expect((await postResend(testEnv, { filter: { status: ['failed', 'expired'], ...window, requestIds: [third.id] }, dryRun: true })).body).toMatchObject({
      matched: 1,
    });
    expect((await postResend(testEnv, { filter: { status: ['failed'], since: since, until: since + 3 }, dryRun: true })).body).toMatchObject({ matched: 1 });

    expect(queue.messages).toEqual([]);
    expect((await env.DB.prepare('SELECT COUNT(*) AS n FROM otp_requests').first<{ n: number }>())!.n).toBe(before);
    expect((await env.DB.prepare('SELECT COUNT(*) AS n FROM resend_jobs').first<{ n: number }>())!.n).toBe(0);
  });

  it.each([
    ['a status that is not resendable', { filter: { status: 'verified', since: '2001-01-01T00:00:00Z' } }],
    ['no status', { filter: { since: '2001-01-01T00:00:00Z' } }],
    ['no since', { filter: { status: 'failed' } }],
    ['since after until', { filter: { status: 'failed', since: '2001-01-02T00:00:00Z', until: '2001-01-01T00:00:00Z' } }],
    ['since in the future', { filter: { status: 'failed', since: Date.now() + 60_000 } }],
    ['a bad time', { filter: { status: 'failed', since: 'last tuesday' } }],
    ['an unknown field', { filter: { status: 'failed', since: 0 }, force: true }],
    ['a bad phone number', { filter: { status: 'failed', since: 0, phoneNumbers: ['0800'] } }],
    ['an empty phone list', { filter: { status: 'failed', since: 0, phoneNumbers: [] } }],
    [
      'too many phone numbers',
      { filter: { status: 'failed', since: 0, phoneNumbers: Array.from({ length: 1001 }, (_, i) => `+9198000${String(i).padStart(5, '0')}`) } },
    ],
    ['a bad request id', { filter: { status: 'failed', since: 0, requestIds: ['otp_x'] } }],
    ['dryRun not a boolean', { filter: { status: 'failed', since: 0 }, dryRun: 'yes' }],
  ])('%s is a 400', async (_name, body) => {
    const { status, body: answer } = await adminJson<ErrorBody>('/v1/admin/resends', { method: 'POST', body: JSON.stringify(body) });
    expect(status).toBe(400);
    expect(answer.error.code).toBe('invalid_request');
  });

  it('a body that is not JSON is a 415, one over 64 KiB a 413', async () => {
    const text = await adminFetch('/v1/admin/resends', { method: 'POST', body: 'x', headers: { 'Content-Type': 'text/plain' } });
    expect(text.status).toBe(415);
    const huge = await adminFetch('/v1/admin/resends', { method: 'POST', body: JSON.stringify({ pad: 'x'.repeat(70_000) }) });
    expect(huge.status).toBe(413);
  });
});

describe('bulk resend through the queue', () => {
  it('creates exactly one new request per phone, linked and marked as operator resends, and skips with reasons', async () => {
    const { since, until } = privateWindow();
    const [twice, expired, verified, newer, live] = Array.from({ length: 5 }, () => uniquePhone()) as [string, string, string, string, string];
    const first = await insertRequestRow({ phoneNumber: twice, createdAt: since + 10, status: 'failed', lastErrorCode: 'provider_unavailable' });
    // The phone is decided at its newest match, which the new request replaces.
    const second = await insertRequestRow({ phoneNumber: twice, createdAt: since + 20, status: 'failed' });
    const expiredRequest = await insertRequestRow({ phoneNumber: expired, createdAt: since + 30, status: 'expired' });
    await insertRequestRow({ phoneNumber: verified, createdAt: since + 40, status: 'failed' });
    await insertRequestRow({ phoneNumber: verified, createdAt: since + 50, status: 'verified', verifiedAt: since + 60 });
    await insertRequestRow({ phoneNumber: newer, createdAt: since + 70, status: 'failed' });
    await insertRequestRow({ phoneNumber: newer, createdAt: until + 80, status: 'sent' });
    const liveRequest = await insertRequestRow({ phoneNumber: live, createdAt: Date.now() - 1000, status: 'sent' });
    const { queue, testEnv } = resendEnv();

    const created = await postResend(testEnv, {
      filter: { status: ['failed', 'expired'], since: iso(since), until: iso(until) },
    });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ matched: 5, phones: 4, statusUrl: `https://otp.test/v1/admin/resends/${created.body.resendId}` });
    const { resendId } = created.body;
    expect(queue.messages).toEqual([{ body: { type: 'resend_fanout', v: 1, resendId, step: 0 }, delaySeconds: undefined }]);

    const steps = await runFanout(testEnv, queue);
    expect(steps).toHaveLength(1);
    const rows = await resendRequests(resendId);
    expect(rows.map((row) => row.phone_number).sort()).toEqual([twice, expired].sort());
    for (const row of rows) {
      expect(row).toMatchObject({ origin: 'operator_resend', status: 'queued', resend_id: resendId });
      expect([first.id, second.id]).not.toContain(row.id);
    }
    expect(rows.find((row) => row.phone_number === twice)!.replaces_request_id).toBe(second.id);
    expect(rows.find((row) => row.phone_number === expired)!.replaces_request_id).toBe(expiredRequest.id);
    // One send job per new request, carrying ids only.
    expect(steps[0]!.sends.map((m) => (m.body as { requestId: string }).requestId).sort()).toEqual(rows.map((row) => row.id).sort());
    expect(JSON.stringify(steps[0]!.sends)).not.toContain(twice.slice(1));

    expect(await jobView(resendId)).toMatchObject({
      done: true,
      matched: 5,
      enqueued: 2,
      pagesDone: 1,
      skipped: { total: 3, byReason: { same_phone: 1, verified_since: 1, newer_request: 1, prefix_blocked: 0, daily_cap: 0 } },
    });
    expect((await requestRow(liveRequest.id)).status).toBe('sent');

    // The audit marks them: the listing filters by origin and resend, the timeline says why.
    const listed = await adminJson<{ requests: Array<{ requestId: string; origin: string; replacesRequestId: string }> }>(
      `/v1/admin/requests?origin=operator_resend&resendId=${resendId}`,
    );
    expect(listed.body.requests).toHaveLength(2);
    const timeline = await adminJson<{ timeline: Array<{ event: string; detail: string }> }>(`/v1/admin/requests/${rows[0]!.id}`);
    expect(timeline.body.timeline[0]!.detail).toContain(`operator resend ${resendId}`);
    const original = await adminJson<{ replacedBy: Array<{ requestId: string }> }>(`/v1/admin/requests/${second.id}`);
    expect(original.body.replacedBy.map((r) => r.requestId)).toEqual([rows.find((row) => row.phone_number === twice)!.id]);
  });

  it('supersedes the phone’s older active request, like any new code', async () => {
    const { since, until } = privateWindow();
    const phone = uniquePhone();
    const old = await insertRequestRow({ phoneNumber: phone, createdAt: since + 1, status: 'sent' });
    const { queue, testEnv } = resendEnv();
    const { body } = await postResend(testEnv, { filter: { status: 'sent', since: iso(since), until: iso(until) } });
    await runFanout(testEnv, queue);
    expect((await requestRow(old.id)).status).toBe('superseded');
    expect((await resendRequests(body.resendId))[0]).toMatchObject({ phone_number: phone, status: 'queued' });
  });

  it('a redelivered fan-out message, or two copies at once, never enqueues a phone twice', async () => {
    const { since, until } = privateWindow();
    for (let i = 0; i < 5; i += 1) await insertRequestRow({ phoneNumber: uniquePhone(), createdAt: since + i, status: 'failed' });
    const { queue, testEnv } = resendEnv();
    const { body } = await postResend(testEnv, { filter: { status: 'failed', since: iso(since), until: iso(until) } });
    const [fanout] = queue.take();

    const [a, b] = await Promise.all([deliver(testEnv, 'otp-send', [fanout!.body]), deliver(testEnv, 'otp-send', [fanout!.body])]);
    expect([...a.result.explicitAcks, ...b.result.explicitAcks]).toHaveLength(2);
    const again = await deliver(testEnv, 'otp-send', [fanout!.body], 2);
    expect(again.result.explicitAcks).toEqual(again.ids);

    const sends = queue.ofType('send');
    expect(sends).toHaveLength(5);
    expect(new Set(sends.map((m) => (m.body as { requestId: string }).requestId)).size).toBe(5);
    expect(await resendRequests(body.resendId)).toHaveLength(5);
    expect(await jobView(body.resendId)).toMatchObject({ done: true, enqueued: 5, pagesDone: 1 });
  });

  it('pages through many matches in steps of 100, paced: never more sends per second than RESEND_SENDS_PER_SECOND', async () => {
    const { since, until } = privateWindow();
    const statements = Array.from({ length: 250 }, (_, i) =>
      env.DB.prepare(
        `INSERT INTO otp_requests (id, phone_number, phone_prefix, status, created_at, updated_at, expires_at, app_id, code_length)
         VALUES (?1, ?2, '+91970', 'failed', ?3, ?3, ?3, ?4, 6)`,
      ).bind(`otp_bulk${String(i).padStart(18, '0')}`, `+9197${String(i).padStart(8, '0')}`, since + Math.floor(i / 7), TEST_APP.id),
    );
    await env.DB.batch(statements);
    const rate = 10;
    const { queue, testEnv } = resendEnv({ RESEND_SENDS_PER_SECOND: String(rate) });
    const { body } = await postResend(testEnv, { filter: { status: 'failed', since: iso(since), until: iso(until) } });
    expect(body.matched).toBe(250);

    const steps = await runFanout(testEnv, queue);
    expect(steps.map((step) => step.sends.length)).toEqual([100, 100, 50]);
    for (const step of steps) {
      const perSecond = new Map<number, number>();
      for (const send of step.sends) perSecond.set(send.delaySeconds ?? 0, (perSecond.get(send.delaySeconds ?? 0) ?? 0) + 1);
      expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(rate);
      // The next step starts only once this step's sends have all become due.
      if (step.next) expect(step.next.delaySeconds).toBeGreaterThanOrEqual(Math.max(...step.sends.map((s) => s.delaySeconds ?? 0)) + 1);
    }
    expect(steps.map((step) => (step.next?.body as ResendFanout | undefined)?.step)).toEqual([1, 2, undefined]);
    const requests = await resendRequests(body.resendId);
    expect(requests).toHaveLength(250);
    expect(new Set(requests.map((r) => r.phone_number)).size).toBe(250);
    expect(await jobView(body.resendId)).toMatchObject({ done: true, enqueued: 250, pagesDone: 3, skipped: { total: 0 } });
  });

  it('respects the daily per-phone cap, counting the phone’s requests of the last 24 hours', async () => {
    const capped = uniquePhone();
    const under = uniquePhone();
    const start = Date.now() - 3_600_000;
    for (let i = 0; i < 10; i += 1) await insertRequestRow({ phoneNumber: capped, createdAt: start + i, status: 'failed' });
    for (let i = 0; i < 9; i += 1) await insertRequestRow({ phoneNumber: under, createdAt: start + i, status: 'failed' });
    const { queue, testEnv } = resendEnv({ RESEND_PHONE_DAILY_CAP: '10' });
    const { body } = await postResend(testEnv, { filter: { status: 'failed', since: iso(start - 1), phoneNumbers: [capped, under] } });
    await runFanout(testEnv, queue);
    expect((await resendRequests(body.resendId)).map((r) => r.phone_number)).toEqual([under]);
    // Counted per match: each phone is decided once, its older matches count as same_phone.
    expect((await jobView(body.resendId)).skipped.byReason).toMatchObject({ daily_cap: 1, same_phone: 17 });
  });

  it('respects prefix blocks', async () => {
    const { since, until } = privateWindow();
    const blockedPhone = '+447700900123';
    const openPhone = uniquePhone();
    await insertRequestRow({ phoneNumber: blockedPhone, createdAt: since + 1, status: 'failed' });
    await insertRequestRow({ phoneNumber: openPhone, createdAt: since + 2, status: 'failed' });
    const { queue, testEnv } = resendEnv();
    const { body } = await postResend(testEnv, { filter: { status: 'failed', since: iso(since), until: iso(until) } });
    const [fanout] = queue.take();
    // A real operator block of a range, as the admin API sets it.
    await prefixBlocksFor(env).block({ prefix: '+4477009', seconds: 3600, note: 'test' });
    const batch = createMessageBatch('otp-send', [{ id: 'fanout-1', timestamp: Date.now(), attempts: 1, body: fanout!.body }]);
    await handleResendFanouts([{ message: batch.messages[0]!, body: fanout!.body as ResendFanout }], testEnv, loadConfig(testEnv));
    expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toEqual(['fanout-1']);
    expect((await resendRequests(body.resendId)).map((r) => r.phone_number)).toEqual([openPhone]);
    expect((await jobView(body.resendId)).skipped.byReason.prefix_blocked).toBe(1);
  });

  it('is not held back by the short per-phone windows that apply to apps', async () => {
    const phone = uniquePhone();
    const { queue, testEnv } = resendEnv();
    // The app's own call, with its key (adminFetch keeps an Authorization it is given).
    const post = () => adminFetch('/v1/otp', { method: 'POST', headers: withKey(), body: JSON.stringify({ phoneNumber: phone }) }, testEnv);
    const first = await post();
    expect(first.status).toBe(202);
    const { requestId } = await first.json<{ requestId: string }>();
    await env.DB.prepare("UPDATE otp_requests SET status = 'failed' WHERE id = ?").bind(requestId).run();
    expect((await post()).status).toBe(429); // the app's 1-per-minute window is in force
    queue.take();

    const { body } = await postResend(testEnv, { filter: { status: 'failed', since: Date.now() - 60_000, requestIds: [requestId] } });
    await runFanout(testEnv, queue);
    expect(await resendRequests(body.resendId)).toEqual([expect.objectContaining({ phone_number: phone, replaces_request_id: requestId })]);
  });

  it('GET /v1/admin/resends lists recent jobs; an unknown id is a 404', async () => {
    const { queue, testEnv } = resendEnv();
    const { body } = await postResend(testEnv, { filter: { status: 'failed', since: '2000-01-01T00:00:00Z', until: '2000-01-02T00:00:00Z' } });
    await runFanout(testEnv, queue);
    const listed = await adminJson<{ resends: Job[] }>('/v1/admin/resends?limit=100');
    expect(listed.body.resends.map((job) => job.resendId)).toContain(body.resendId);
    expect((await adminFetch('/v1/admin/resends/rsd_AAAAAAAAAAAAAAAAAAAAAA')).status).toBe(404);
    expect((await adminFetch('/v1/admin/resends/nope')).status).toBe(400);
  });

  it('a job whose fan-out never reached the queue is restarted by the cron', async () => {
    const { since, until } = privateWindow();
    await insertRequestRow({ phoneNumber: uniquePhone(), createdAt: since + 1, status: 'failed' });
    const broken = { ...env, SEND_QUEUE: { send: async () => Promise.reject(new Error('queue down')) } } as unknown as Env;
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const { status, body } = await postResend(broken, { filter: { status: 'failed', since: iso(since), until: iso(until) } });
    errors.mockRestore();
    expect(status).toBe(202);

    const queue = recordingQueue();
    const testEnv = withQueue(queue.binding);
    const revivedNow = await reviveStalledResends(testEnv);
    expect(queue.messages.filter((m) => (m.body as ResendFanout).resendId === body.resendId)).toEqual([]); // not stalled yet
    expect((await reviveStalledResends(testEnv, Date.now() + RESEND_STALLED_AFTER_MS + 1)).revived).toBeGreaterThan(revivedNow.revived);
    expect(queue.messages.filter((m) => (m.body as ResendFanout).resendId === body.resendId)).toEqual([
      { body: { type: 'resend_fanout', v: 1, resendId: body.resendId, step: 0 }, delaySeconds: undefined },
    ]);
    // Other tests' jobs may be revived too; run only this one.
    queue.messages.push(...queue.take().filter((m) => (m.body as ResendFanout).resendId === body.resendId));
    await runFanout(testEnv, queue);
    expect(await jobView(body.resendId)).toMatchObject({ done: true, enqueued: 1 });
  });

  it('logs counts, never a phone number', async () => {
    const { since, until } = privateWindow();
    const phone = uniquePhone();
    await insertRequestRow({ phoneNumber: phone, createdAt: since + 1, status: 'failed' });
    const lines: string[] = [];
    const spies = (['log', 'info', 'warn', 'error'] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation((...args) => void lines.push(args.join(' '))),
    );
    const { queue, testEnv } = resendEnv();
    await postResend(testEnv, { filter: { status: 'failed', since: iso(since), until: iso(until) } });
    await runFanout(testEnv, queue);
    spies.forEach((spy) => spy.mockRestore());
    expect(lines.join('\n')).toContain('resend.step_done');
    expect(lines.join('\n')).not.toContain(phone.slice(1));
  });
});
