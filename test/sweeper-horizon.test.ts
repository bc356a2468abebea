import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, OTP_TTL_MAX_SECONDS } from '../src/config';
import { isDeepSweep, stallGraceMs, sweep } from '../src/cron/sweeper';
import { claimRequests } from '../src/db/delivery-attempts';
import { expireUnsentRequests, stalledSendIds, WAITING_HORIZON_MS } from '../src/db/stalled-work';
import { inFlightNow } from '../src/db/stats-queries';
import { elapse, retireOtherRequests } from './support/elapse';
import { requestRow, seedRequest } from './support/fixtures';
import { queryPlan, recordingDb } from './support/query-plans';
import { recordingQueue, withQueue } from './support/recording-queue';

/**
 * No status index holds waiting requests any more (migration 0015): the sweeper reads them through
 * otp_requests_created_id, within the longest code lifetime, and once an hour over a day.
 */
const GRACE_MS = stallGraceMs(loadConfig(env));
const HOUR_MS = 3_600_000;
/** The start of the current hour (a deep sweep's minute) and half an hour before it (a regular one), both past. */
const deepNow = () => Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
const regularNow = () => deepNow() - 30 * 60_000;

async function sweepAt(now: number) {
  const queue = recordingQueue();
  const summary = await sweep(withQueue(queue.binding), now);
  return { summary, requestIds: queue.messages.map((message) => (message.body as { requestId: string }).requestId) };
}

beforeEach(retireOtherRequests);

describe('the sweeper finds waiting requests by time', () => {
  it('the first minute of each hour is the deep sweep', () => {
    expect(isDeepSweep(deepNow())).toBe(true);
    expect(isDeepSweep(deepNow() + 60_000)).toBe(false);
    expect(isDeepSweep(regularNow())).toBe(false);
  });

  it('the horizon outlasts the longest code lifetime an app or the deployment may set', () => {
    expect(WAITING_HORIZON_MS).toBeGreaterThan(OTP_TTL_MAX_SECONDS * 1000);
  });

  it('re-enqueues a stalled queued request and a sending one whose claimant died, at the longest code lifetime', async () => {
    const queued = await seedRequest({ ttlMs: OTP_TTL_MAX_SECONDS * 1000 });
    const sending = await seedRequest({ ttlMs: OTP_TTL_MAX_SECONDS * 1000 });
    expect((await claimRequests(env.DB, [sending.id], Date.now(), 30_000)).has(sending.id)).toBe(true);
    // Both were made almost a code's lifetime ago and nothing has happened to them since.
    await elapse(OTP_TTL_MAX_SECONDS * 1000 - 60_000, [queued.id, sending.id]);
    const { requestIds } = await sweepAt(Date.now());
    expect(requestIds.sort()).toEqual([queued.id, sending.id].sort());
  });

  it('expires an unsent request in a regular sweep; one left waiting past the horizon only in the deep sweep', async () => {
    const recent = await seedRequest();
    const forgotten = await seedRequest();
    // `recent` expired ten minutes before the regular sweep; `forgotten` was made three hours before it (a cron that did not run).
    await elapse(Date.now() - regularNow() + 300_000 + 600_000, [recent.id]);
    await elapse(Date.now() - regularNow() + 3 * HOUR_MS, [forgotten.id]);
    expect((await sweepAt(regularNow())).summary.expired).toBe(1);
    expect(await requestRow(recent.id)).toMatchObject({ status: 'expired', last_error_code: 'expired_before_delivery' });
    expect((await requestRow(forgotten.id)).status).toBe('queued');
    expect((await sweepAt(deepNow())).summary.expired).toBe(1);
    expect(await requestRow(forgotten.id)).toMatchObject({ status: 'expired', last_error_code: 'expired_before_delivery' });
  });

  it('the operators’ figures of work in flight count waiting requests of the last day, a sweeper missed for hours among them', async () => {
    const { id } = await seedRequest();
    const old = await seedRequest();
    await elapse(GRACE_MS + 120_000, [id]);
    await elapse(5 * HOUR_MS, [old.id]);
    expect(await inFlightNow(env.DB, Date.now())).toMatchObject({ queued: 2, sending: 0, stuck: 2 });
  });

  it('reads otp_requests through its time index: never the whole table', async () => {
    const { db, statements } = recordingDb();
    const now = Date.now();
    await expireUnsentRequests(db, now);
    await expireUnsentRequests(db, now, 24 * HOUR_MS);
    await stalledSendIds(db, now, GRACE_MS, 1000);
    await inFlightNow(db, now);
    await inFlightNow(db, now, { appId: 'app_testsuite' });
    // Each expiry is two statements: the `otp.expired` events, then the update.
    expect(statements).toHaveLength(7);
    for (const { sql, args } of statements) {
      const reads = (await queryPlan(sql, args)).filter((line) => /\b(otp_requests|r)\b/.test(line) && !/json_each/.test(line));
      expect(reads.length, sql).toBeGreaterThan(0);
      for (const line of reads) expect(line, sql).toMatch(/^SEARCH (otp_requests|r) USING INDEX otp_requests_(created_id|app_created_id) \(/);
    }
  });
});
