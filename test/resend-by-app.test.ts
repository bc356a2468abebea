import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { adminJson } from './support/admin';
import { type MadeApp, makeApp } from './support/apps';
import { insertRequestRow, privateWindow } from './support/audit-seed';
import { uniquePhone } from './support/fixtures';
import { deliver } from './support/queue';
import { recordingQueue, withQueue } from './support/recording-queue';

/** Bulk resends never cross apps: `appId` keeps one to an app, and every phone is decided once per app. */

interface Job {
  resendId: string;
  done: boolean;
  enqueued: number;
  filter: { appId?: string };
  skipped: { byReason: Record<string, number> };
}
interface NewRequest {
  id: string;
  phone_number: string;
  app_id: string | null;
  replaces_request_id: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
let checkout: MadeApp;
let support: MadeApp;

beforeAll(async () => {
  checkout = await makeApp({}, 'Checkout');
  support = await makeApp({}, 'Support');
});

/** Asks for a resend (or its dry run) and, for a real one, runs its fan-out to the end as the queue would. */
async function resend(filter: Record<string, unknown>, options: { dryRun?: boolean; env?: Record<string, string> } = {}) {
  const queue = recordingQueue();
  const testEnv = withQueue(queue.binding, { ...env, ...options.env } as Env);
  const body = JSON.stringify({ filter, dryRun: options.dryRun ?? false });
  const created = await adminJson<{ resendId: string; matched: number; phones: number }>('/v1/admin/resends', { method: 'POST', body }, testEnv);
  expect(created.status).toBe(options.dryRun ? 200 : 202);
  if (options.dryRun) return { ...created.body, made: [] as NewRequest[], job: null };
  for (let steps = 0; steps < 10; steps += 1) {
    const fanouts = queue.take().filter((message) => (message.body as { type: string }).type === 'resend_fanout');
    if (fanouts.length === 0) break;
    await deliver(
      testEnv,
      'otp-send',
      fanouts.map((message) => message.body),
    );
  }
  const { results } = await env.DB.prepare('SELECT id, phone_number, app_id, replaces_request_id FROM otp_requests WHERE resend_id = ?1')
    .bind(created.body.resendId)
    .all<NewRequest>();
  const job = (await adminJson<Job>(`/v1/admin/resends/${created.body.resendId}`)).body;
  return { ...created.body, made: results, job };
}

describe('bulk resend by app', () => {
  it('with appId, only that app’s requests match, and only they are replaced', async () => {
    const { since, until } = privateWindow();
    const [onlyA, onlyB, both] = [uniquePhone(), uniquePhone(), uniquePhone()];
    const a1 = await insertRequestRow({ phoneNumber: onlyA, createdAt: since + 1, status: 'failed', appId: checkout.id });
    const b1 = await insertRequestRow({ phoneNumber: onlyB, createdAt: since + 2, status: 'failed', appId: support.id });
    const a2 = await insertRequestRow({ phoneNumber: both, createdAt: since + 3, status: 'expired', appId: checkout.id });
    const b2 = await insertRequestRow({ phoneNumber: both, createdAt: since + 4, status: 'failed', appId: support.id });
    const window = { status: ['failed', 'expired'], since: iso(since), until: iso(until) };

    expect(await resend({ ...window, appId: checkout.id }, { dryRun: true })).toMatchObject({ matched: 2, phones: 2 });
    // Every app: the shared phone counts once in each app, as each can get a new request.
    expect(await resend(window, { dryRun: true })).toMatchObject({ matched: 4, phones: 4 });

    const { made, job } = await resend({ ...window, appId: checkout.id });
    expect(made.map((row) => [row.replaces_request_id, row.app_id]).sort()).toEqual(
      [
        [a1.id, checkout.id],
        [a2.id, checkout.id],
      ].sort(),
    );
    expect(job).toMatchObject({ enqueued: 2, filter: { appId: checkout.id } });
    const replacedB = await env.DB.prepare('SELECT COUNT(*) AS n FROM otp_requests WHERE replaces_request_id IN (?1, ?2)')
      .bind(b1.id, b2.id)
      .first<{ n: number }>();
    expect(replacedB!.n).toBe(0);
  });

  it('decides each phone once per app: a new request in every app it failed in, judged by that app’s requests alone', async () => {
    const { since, until } = privateWindow();
    const [many, verifiedElsewhere, liveElsewhere, verifiedHere] = [uniquePhone(), uniquePhone(), uniquePhone(), uniquePhone()];
    const at = (n: number) => since + n;
    await insertRequestRow({ phoneNumber: many, createdAt: at(1), status: 'failed', appId: checkout.id });
    const newestInA = await insertRequestRow({ phoneNumber: many, createdAt: at(2), status: 'expired', appId: checkout.id });
    const inB = await insertRequestRow({ phoneNumber: many, createdAt: at(3), status: 'failed', appId: support.id });
    const beforeApps = await insertRequestRow({ phoneNumber: many, createdAt: at(4), status: 'failed', appId: null });
    // A code verified, or still live, in another app does not stand for this app's.
    const v = await insertRequestRow({ phoneNumber: verifiedElsewhere, createdAt: at(5), status: 'failed', appId: checkout.id });
    await insertRequestRow({ phoneNumber: verifiedElsewhere, createdAt: at(6), status: 'verified', verifiedAt: at(7), appId: support.id });
    const w = await insertRequestRow({ phoneNumber: liveElsewhere, createdAt: at(8), status: 'failed', appId: checkout.id });
    await insertRequestRow({ phoneNumber: liveElsewhere, createdAt: at(9), status: 'sent', appId: support.id });
    // In the same app it does.
    await insertRequestRow({ phoneNumber: verifiedHere, createdAt: at(10), status: 'failed', appId: support.id });
    await insertRequestRow({ phoneNumber: verifiedHere, createdAt: at(11), status: 'verified', verifiedAt: at(12), appId: support.id });
    const window = { status: ['failed', 'expired'], since: iso(since), until: iso(until) };

    expect(await resend(window, { dryRun: true })).toMatchObject({ matched: 7, phones: 6 });
    const { made, job } = await resend(window);
    const byReplaced = Object.fromEntries(made.map((row) => [row.replaces_request_id, row]));
    expect(Object.keys(byReplaced).sort()).toEqual([newestInA.id, inB.id, beforeApps.id, v.id, w.id].sort());
    expect(byReplaced[newestInA.id]!.app_id).toBe(checkout.id);
    expect(byReplaced[inB.id]!.app_id).toBe(support.id);
    expect(byReplaced[beforeApps.id]!.app_id).toBeNull();
    expect(byReplaced[v.id]!.app_id).toBe(checkout.id);
    expect(job!.enqueued).toBe(5);
    expect(job!.skipped.byReason).toEqual({ same_phone: 1, verified_since: 1, newer_request: 0, prefix_blocked: 0, daily_cap: 0 });
  });

  it('a phone resent in one app on an earlier page still gets its new request in another app on a later one', async () => {
    const { since, until } = privateWindow();
    const phone = uniquePhone();
    await insertRequestRow({ phoneNumber: phone, createdAt: since + 1, status: 'failed', appId: checkout.id });
    // A page is 100 matches (RESEND_CHUNK_SIZE): these push the phone's request in the other app onto the second.
    for (let n = 0; n < 100; n += 1) await insertRequestRow({ phoneNumber: uniquePhone(), createdAt: since + 2 + n, status: 'failed', appId: checkout.id });
    const later = await insertRequestRow({ phoneNumber: phone, createdAt: since + 200, status: 'failed', appId: support.id });

    const { made, job } = await resend({ status: 'failed', since: iso(since), until: iso(until) });
    expect(made).toHaveLength(102);
    expect(made.filter((row) => row.phone_number === phone).map((row) => row.app_id)).toEqual(expect.arrayContaining([checkout.id, support.id]));
    expect(made.find((row) => row.replaces_request_id === later.id)?.app_id).toBe(support.id);
    expect(job).toMatchObject({ enqueued: 102, done: true });
  });

  it('the daily cap still counts the phone’s requests in every app', async () => {
    const phone = uniquePhone();
    const now = Date.now();
    await insertRequestRow({ phoneNumber: phone, createdAt: now - 2 * 3_600_000, status: 'failed', appId: checkout.id });
    await insertRequestRow({ phoneNumber: phone, createdAt: now - 3_600_000, status: 'failed', appId: support.id });
    const filter = { status: 'failed', since: iso(now - 3 * 3_600_000), phoneNumbers: [phone] };

    // Two requests in the last day, one in each app: a cap of 2 holds both back.
    const capped = await resend(filter, { env: { RESEND_PHONE_DAILY_CAP: '2' } });
    expect(capped.made).toEqual([]);
    expect(capped.job!.skipped.byReason.daily_cap).toBe(2);
    const roomy = await resend(filter, { env: { RESEND_PHONE_DAILY_CAP: '3' } });
    expect(roomy.made.map((row) => row.app_id).sort()).toEqual([checkout.id, support.id].sort());
  });

  it('the database refuses a second new request for one resend, app and phone, and allows one in each app', async () => {
    const phone = uniquePhone();
    const resendId = 'rsd_UniqueUniqueUniqueUniq';
    const row = (appId: string | null) => insertRequestRow({ phoneNumber: phone, createdAt: Date.now(), status: 'queued', appId, resendId });
    await row(checkout.id);
    await row(support.id);
    await row(null);
    await expect(row(checkout.id)).rejects.toThrow(/UNIQUE constraint failed/);
    // Requests from before apps share one app in this rule, though NULLs never collide in an index.
    await expect(row(null)).rejects.toThrow(/UNIQUE constraint failed/);
  });
});
