import { env, evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import wranglerToml from '../wrangler.toml?raw';
import { SEND_BATCH_SIZE, pacingHorizonMs } from '../src/consumer/provider-slots';
import { CATCH_UP_RATE, type ProviderPacer } from '../src/limiter/provider-pacer';
import { PROVIDER_URL, SEND_ROUTE, requestRow, seedRequest, startMessagingEnv } from './support/fixtures';
import { json, interceptOrigin } from './support/outbound';
import { deliverSendJobs } from './support/queue';

const RATE = 20;
const MIN_GAP_MS = 1000 / (CATCH_UP_RATE * RATE);

function newPacer() {
  return env.PROVIDER_PACER.get(env.PROVIDER_PACER.idFromName(`pacer-${crypto.randomUUID()}`));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The most send times that fall within any one second (a window starting at one of them). */
function mostInOneSecond(slots: number[]): number {
  const sorted = [...slots].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! < sorted[i]! + 1000) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

function gaps(slots: number[]): number[] {
  return slots.slice(1).map((slot, index) => slot - slots[index]!);
}

describe('ProviderPacer', () => {
  it('grants an idle second at the catch-up rate, then each time a second after the one N places earlier, within the horizon', async () => {
    const pacer = newPacer();
    const before = Date.now();
    const first = await pacer.reserve({ count: 100, ratePerSecond: RATE, horizonMs: 1000 });
    const start = first.slots[0]!;
    expect(start).toBeGreaterThanOrEqual(before);
    // 20 at 40 ms apart, then the 21st exactly one second after the first; the 22nd is past the horizon.
    expect(first.slots).toEqual([...Array.from({ length: RATE }, (_, i) => start + i * MIN_GAP_MS), start + 1000]);
    expect(first.nextFreeAt).toBe(start + MIN_GAP_MS + 1000);

    const second = await pacer.reserve({ count: 5, ratePerSecond: RATE, horizonMs: 2000 });
    expect(second.slots).toEqual([1, 2, 3, 4, 5].map((i) => start + 1000 + i * MIN_GAP_MS));
    expect(mostInOneSecond([...first.slots, ...second.slots])).toBe(RATE);

    const none = await pacer.reserve({ count: 5, ratePerSecond: RATE, horizonMs: 0 });
    expect(none.slots).toEqual([]);
    expect(none.nextFreeAt).toBe(start + 1000 + 6 * MIN_GAP_MS);
    expect((await pacer.reserve({ count: 0, ratePerSecond: RATE, horizonMs: 2000 })).slots).toEqual([]);
  });

  it('never grants more than N in any second, nor two closer than the catch-up spacing, across many calls and a pause', async () => {
    const pacer = newPacer();
    const granted: number[] = [];
    const counts = [7, 30, 1, 12, 0, 25, 3, 40, 9, 2, 18];
    for (const [index, count] of counts.entries()) {
      const askedAt = Date.now();
      const { slots, nextFreeAt } = await pacer.reserve({ count, ratePerSecond: RATE, horizonMs: 1500 });
      for (const slot of slots) expect(slot - askedAt).toBeLessThanOrEqual(1500 + 50);
      if (slots.length < count) expect(nextFreeAt - askedAt).toBeGreaterThan(1500);
      granted.push(...slots);
      // A pause in the middle: the consumer had nothing to send for over a second.
      await sleep(index === 5 ? 1300 : 120);
    }
    expect(granted.length).toBeGreaterThan(60);
    expect(gaps(granted).every((gap) => gap >= MIN_GAP_MS)).toBe(true);
    expect(mostInOneSecond(granted)).toBeLessThanOrEqual(RATE);
  });

  it('catches up after a pause: the second still gets its N calls, at no more than the catch-up rate', async () => {
    const pacer = newPacer();
    const early = await pacer.reserve({ count: 2, ratePerSecond: RATE, horizonMs: 1000 });
    const start = early.slots[0]!;
    // Nothing to send for a quarter second: strict 1/N spacing would have lost that capacity.
    await sleep(250);
    const late = await pacer.reserve({ count: 30, ratePerSecond: RATE, horizonMs: 2000 });
    const all = [...early.slots, ...late.slots];
    expect(all.filter((slot) => slot < start + 1000)).toHaveLength(RATE);
    expect(gaps(late.slots.slice(0, RATE - 2))).toEqual(Array(RATE - 3).fill(MIN_GAP_MS));
    expect(late.slots[RATE - 2]).toBe(start + 1000);
    expect(mostInOneSecond(all)).toBe(RATE);
  });

  it('after a restart grants nothing until a second after the last time it had granted', async () => {
    const pacer = newPacer();
    const before = await pacer.reserve({ count: RATE, ratePerSecond: RATE, horizonMs: 2000 });
    const last = before.slots.at(-1)!;
    expect(await runInDurableObject(pacer, (_, state) => state.storage.get('lastSlot'))).toBe(last);
    // The in-memory log of the last second is gone; only the last time is stored.
    await evictDurableObject(pacer);
    const after = await pacer.reserve({ count: 5, ratePerSecond: RATE, horizonMs: 3000 });
    expect(after.slots[0]).toBe(last + 1000);
    expect(gaps(after.slots)).toEqual(Array(4).fill(MIN_GAP_MS));
    expect(mostInOneSecond([...before.slots, ...after.slots])).toBeLessThanOrEqual(RATE);
  });

  it('after an upgrade from the strictly spaced pacer, waits a second past the time it had stored', async () => {
    const pacer = newPacer();
    const storedNextFreeAt = Date.now() + 300;
    await runInDurableObject(pacer, (_, state) => state.storage.put('nextFreeAt', storedNextFreeAt));
    await evictDurableObject(pacer);
    const { slots } = await pacer.reserve({ count: 1, ratePerSecond: RATE, horizonMs: 2000 });
    expect(slots).toEqual([storedNextFreeAt + 1000]);
    const stored = await runInDurableObject(pacer, (_, state) => state.storage.get(['lastSlot', 'nextFreeAt']));
    expect(Object.fromEntries(stored)).toEqual({ lastSlot: slots[0] });
  });

  it('a full batch at the production rate fits the horizon', async () => {
    expect(pacingHorizonMs(RATE)).toBe(5000);
    expect(pacingHorizonMs(100)).toBe(2000);
    expect(pacingHorizonMs(1)).toBe(10_000);
    const { slots } = await newPacer().reserve({ count: SEND_BATCH_SIZE, ratePerSecond: RATE, horizonMs: pacingHorizonMs(RATE) });
    expect(slots).toHaveLength(SEND_BATCH_SIZE);
    expect(mostInOneSecond(slots)).toBe(RATE);
  });

  it('SEND_BATCH_SIZE is the send queue\'s max_batch_size in every environment of wrangler.toml', () => {
    const sizes = [...wranglerToml.matchAll(/queue = "otp-send"\n(?:#.*\n)*max_batch_size = (\d+)/g)].map((match) => Number(match[1]));
    expect(sizes).toEqual([SEND_BATCH_SIZE, SEND_BATCH_SIZE]);
  });

  it('refuses malformed input', async () => {
    await runInDurableObject(newPacer(), async (instance: ProviderPacer) => {
      await expect(instance.reserve({ count: 1, ratePerSecond: 0, horizonMs: 1000 })).rejects.toThrow(/too small/i);
      await expect(instance.reserve({ count: -1, ratePerSecond: RATE, horizonMs: 1000 })).rejects.toThrow(/too small/i);
      await expect(instance.reserve({ count: 1, ratePerSecond: RATE, horizonMs: 60_001 })).rejects.toThrow(/too big/i);
    });
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
  const calls = interceptOrigin(PROVIDER_URL, {
    [SEND_ROUTE]: () => {
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
    },
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
    // The send times hold 20 in any second (the pacer's tests check that exactly); a call starts
    // when its timer fires, a few ms late and later still on a busy machine. While catching up the
    // times are 40 ms apart, so a call up to 80 ms late may share a second with two of the next 20.
    expect(provider.peakPerSecond()).toBeLessThanOrEqual(22);
    expect(provider.calls).toHaveLength(100);
    for (const request of requests) expect((await requestRow(request.id)).status).toBe('sent');
  });
});
