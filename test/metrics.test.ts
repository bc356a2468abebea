import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { markSignalThrottled, SIGNAL_MARK_INTERVAL_MS, signalLastAt } from '../src/db/alert-signals';
import { dataPoint, LocalMetrics } from '../src/metrics/metrics';
import { TEST_APP, withKey } from './support/apps';
import { PROVIDER_URL, SEND_ROUTE, startMessagingEnv, uniquePhone } from './support/fixtures';
import { interceptOrigin, json } from './support/outbound';
import { deliverSendJobs } from './support/queue';
import { recordingQueue } from './support/recording-queue';
import { fetchWithEnv } from './support/worker';

type Point = ReturnType<typeof dataPoint>;

/** A stand-in for the Analytics Engine binding that keeps what it is given. */
function recordingDataset(options: { fail?: boolean } = {}) {
  const points: Point[] = [];
  const dataset = {
    writeDataPoint(point: Point) {
      if (options.fail) throw new Error('dataset unavailable');
      points.push(structuredClone(point));
    },
  } as unknown as AnalyticsEngineDataset;
  return { dataset, points };
}

function postOtp(testEnv: Env, phoneNumber = uniquePhone()) {
  return fetchWithEnv(
    new Request('https://otp.test/v1/otp', {
      method: 'POST',
      headers: withKey({ 'Content-Type': 'application/json' }),
      body: JSON.stringify({ phoneNumber }),
    }),
    testEnv,
  );
}

describe('Analytics Engine data points', () => {
  it('one layout: index and blob 1 the metric, blobs 2-4 its dimensions, doubles the count and a duration', () => {
    expect(dataPoint({ metric: 'provider_call', provider: 'startmessaging', outcome: 'retry', errorCode: 'provider_unavailable', durationMs: 812 })).toEqual({
      indexes: ['provider_call'],
      blobs: ['provider_call', 'startmessaging', 'retry', 'provider_unavailable'],
      doubles: [1, 812],
    });
    expect(dataPoint({ metric: 'denial', reason: 'prefix_blocked', appId: 'app_x' })).toEqual({
      indexes: ['denial'],
      blobs: ['denial', 'prefix_blocked', 'app_x', ''],
      doubles: [1, 0],
    });
  });

  it('the request path and the consumer write sends, refusals and provider calls to the METRICS binding', async () => {
    const { dataset, points } = recordingDataset();
    const sends = recordingQueue();
    const testEnv = { ...startMessagingEnv({ ALLOWED_COUNTRIES: 'IN' }), SEND_QUEUE: sends.binding, METRICS: dataset } as Env;
    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => json(201, { success: true, data: { messageId: 'msg_1', status: 'queued' } }) });
    expect((await postOtp(testEnv)).status).toBe(202);
    expect((await postOtp(testEnv, '+447911123456')).status).toBe(422);
    await deliverSendJobs(testEnv, [(sends.take()[0]!.body as { requestId: string }).requestId]);
    expect(points.map((point) => point.blobs.slice(0, 3))).toEqual([
      ['send', TEST_APP.id, 'sms'],
      ['denial', 'country_not_allowed', TEST_APP.id],
      ['provider_call', 'startmessaging', 'sent'],
    ]);
    expect(points[2]!.doubles[1]).toBeGreaterThanOrEqual(0);
  });

  it('a binding that throws never fails the request', async () => {
    const { dataset } = recordingDataset({ fail: true });
    expect((await postOtp({ ...env, METRICS: dataset } as Env)).status).toBe(202);
  });
});

describe('the local fallback', () => {
  it('counts per minute and by dimensions, sums durations, and keeps the last hour', () => {
    let now = Date.UTC(2026, 0, 1, 12, 0, 10);
    const metrics = new LocalMetrics(() => now);
    metrics.record({ metric: 'provider_call', provider: 'sandbox', outcome: 'sent', errorCode: null, durationMs: 100 });
    metrics.record({ metric: 'provider_call', provider: 'sandbox', outcome: 'sent', errorCode: null, durationMs: 50 });
    metrics.record({ metric: 'verification', outcome: 'verified', appId: 'app_a' });
    now += 60_000;
    metrics.record({ metric: 'denial', reason: 'phone_rate_limited', appId: 'app_a' });
    expect(metrics.snapshot()).toEqual([
      { minute: '2026-01-01T12:00:00.000Z', metric: 'provider_call', dimensions: ['sandbox', 'sent', ''], count: 2, totalDurationMs: 150 },
      { minute: '2026-01-01T12:00:00.000Z', metric: 'verification', dimensions: ['verified', 'app_a'], count: 1, totalDurationMs: 0 },
      { minute: '2026-01-01T12:01:00.000Z', metric: 'denial', dimensions: ['phone_rate_limited', 'app_a'], count: 1, totalDurationMs: 0 },
    ]);
    now += 60 * 60_000;
    metrics.record({ metric: 'send', appId: 'app_a', testNumber: false });
    expect(metrics.snapshot().map((entry) => entry.minute)).toEqual(['2026-01-01T13:01:00.000Z']);
  });
});

describe('the global budget signal', () => {
  it('is written at most once per isolate every SIGNAL_MARK_INTERVAL_MS, however many sends the budget refuses', async () => {
    const t = Date.now() + 86_400_000;
    expect(markSignalThrottled(env.DB, 'global_budget_exhausted', t)).not.toBeNull();
    await markSignalThrottled(env.DB, 'global_budget_exhausted', t + SIGNAL_MARK_INTERVAL_MS)?.then(() => {});
    expect(markSignalThrottled(env.DB, 'global_budget_exhausted', t + SIGNAL_MARK_INTERVAL_MS + 1)).toBeNull();
    expect(markSignalThrottled(env.DB, 'global_budget_exhausted', t + 2 * SIGNAL_MARK_INTERVAL_MS - 1)).toBeNull();
    await markSignalThrottled(env.DB, 'global_budget_exhausted', t + 2 * SIGNAL_MARK_INTERVAL_MS);
    expect(await signalLastAt(env.DB, 'global_budget_exhausted')).toBe(t + 2 * SIGNAL_MARK_INTERVAL_MS);
  });
});
