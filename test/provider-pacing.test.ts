import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import wranglerToml from '../wrangler.toml?raw';
import { SEND_BATCH_SIZE, pacingHorizonMs } from '../src/consumer/provider-slots';
import { PROVIDER_URL, requestRow, seedRequest, startMessagingEnv } from './support/fixtures';
import { json, interceptOrigin } from './support/outbound';
import { deliverSendJobs } from './support/queue';

describe('ProviderPacer', () => {
  it('hands out send times 1/rate apart, only within the horizon, continuing across calls', async () => {
    const pacer = env.PROVIDER_PACER.get(env.PROVIDER_PACER.idFromName(`pacer-${crypto.randomUUID()}`));
    const first = await pacer.reserve({ count: 100, ratePerSecond: 20, horizonMs: 1000 });
    expect(first.slots).toHaveLength(21);
    for (let i = 1; i < first.slots.length; i++) expect(first.slots[i]! - first.slots[i - 1]!).toBeGreaterThanOrEqual(49);
    const second = await pacer.reserve({ count: 5, ratePerSecond: 20, horizonMs: 2000 });
    expect(second.slots[0]).toBeGreaterThanOrEqual(first.slots.at(-1)! + 49);
    const none = await pacer.reserve({ count: 5, ratePerSecond: 20, horizonMs: 0 });
    expect(none.slots).toEqual([]);
    expect(none.nextFreeAt).toBeGreaterThan(Date.now());
  });

  it('a full batch at the production rate fits the horizon', async () => {
    expect(pacingHorizonMs(20)).toBe(5000);
    expect(pacingHorizonMs(100)).toBe(2000);
    expect(pacingHorizonMs(1)).toBe(10_000);
    const pacer = env.PROVIDER_PACER.get(env.PROVIDER_PACER.idFromName(`pacer-${crypto.randomUUID()}`));
    const { slots } = await pacer.reserve({ count: SEND_BATCH_SIZE, ratePerSecond: 20, horizonMs: pacingHorizonMs(20) });
    expect(slots).toHaveLength(SEND_BATCH_SIZE);
  });

  it('SEND_BATCH_SIZE is the send queue\'s max_batch_size in every environment of wrangler.toml', () => {
    const sizes = [...wranglerToml.matchAll(/queue = "otp-send"\n(?:#.*\n)*max_batch_size = (\d+)/g)].map((match) => Number(match[1]));
    expect(sizes).toEqual([SEND_BATCH_SIZE, SEND_BATCH_SIZE]);
  });
});

/**
 * A provider that enforces its account limit as a token bucket of `rate` requests per second
 * (the usual meaning of "20 requests/s"): a call finding the bucket empty gets a 429.
 */
function rateLimitedProvider(rate: number) {
  let tokens = rate;
  let refilledAt = Date.now();
  let rejected = 0;
  const startedAt: number[] = [];
  const calls = interceptOrigin(PROVIDER_URL, () => {
    const now = Date.now();
    tokens = Math.min(rate, tokens + ((now - refilledAt) / 1000) * rate);
    refilledAt = now;
    if (tokens < 1) {
      rejected += 1;
      return json(429, { message: 'rate limited' }, { 'Retry-After': '1' });
    }
    tokens -= 1;
    startedAt.push(now);
    return json(201, { success: true, data: { messageId: `m${startedAt.length}` } });
  });
  /** The most calls that started within any one-second window. */
  const peakPerSecond = () => Math.max(...startedAt.map((at) => startedAt.filter((other) => other >= at && other < at + 1000).length));
  return { calls, rejected: () => rejected, peakPerSecond };
}

describe('provider pacing in the consumer', () => {
  it('100 users at once all get their SMS while a 20/s provider sees zero 429s', { timeout: 60_000 }, async () => {
    const requests = await Promise.all(Array.from({ length: 100 }, () => seedRequest()));
    const provider = rateLimitedProvider(20);
    const testEnv = startMessagingEnv({ PROVIDER_RATE_PER_SECOND: '20' });

    // Plays the queue: delivers batches of the shipped size and redelivers what was retried.
    let pending = requests.map((request) => request.id);
    let rounds = 0;
    for (; pending.length > 0 && rounds < 50; rounds++) {
      const batch = pending.slice(0, SEND_BATCH_SIZE);
      const { ids, result } = await deliverSendJobs(testEnv, batch, rounds + 1);
      const retried = new Set(result.retryMessages.map((message) => message.msgId));
      pending = [...batch.filter((_, index) => retried.has(ids[index]!)), ...pending.slice(SEND_BATCH_SIZE)];
    }

    expect(pending).toEqual([]);
    // The pacing horizon covers a full batch at this rate: none of it went back to the queue.
    expect(rounds).toBe(1);
    expect(provider.rejected()).toBe(0);
    // Timers can start a call a few ms late, so one extra call may share a second with the next 20.
    expect(provider.peakPerSecond()).toBeLessThanOrEqual(21);
    expect(provider.calls).toHaveLength(100);
    for (const request of requests) expect((await requestRow(request.id)).status).toBe('sent');
  });
});
