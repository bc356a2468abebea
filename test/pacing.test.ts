import { env, evictDurableObject, runInDurableObject } from 'cloudflare:test';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CATCH_UP_RATE, PacingSchedule, PLANNED_WINDOW_MS, START_TOLERANCE_MS, TRANSIT_ALLOWANCE_MS } from '../src/pacing/pacing-schedule';
import type { ProviderPacer } from '../src/pacing/provider-pacer';
import { pacingHorizonMs, SEND_BATCH_SIZE } from '../src/pacing/provider-slots';
import wranglerToml from '../wrangler.toml?raw';
import { PROVIDER_URL, requestRow, SEND_ROUTE, seedRequest, startMessagingEnv } from './support/fixtures';
import { interceptOrigin, json } from './support/outbound';
import { mostInOneSecond, withOwnPacer } from './support/pacer';
import { deliverSendJobs } from './support/queue';

const RATE = 20;
const MIN_GAP_MS = 1000 / (CATCH_UP_RATE * RATE);
/** Any fixed instant: the schedule reads no clock of its own. */
const T = 1_800_000_000_000;

function gaps(slots: number[]): number[] {
  return slots.slice(1).map((slot, index) => slot - slots[index]!);
}

describe('PacingSchedule (the pacer’s rule, on an injected clock)', () => {
  it('grants an idle second at the catch-up rate, then each time a planned window after the one N places earlier, within the horizon', () => {
    const schedule = new PacingSchedule();
    const first = schedule.reserve({ count: 100, ratePerSecond: RATE, horizonMs: 1250 }, T);
    // 20 at 40 ms apart; the 21st a planned window (1.15 s) after the first, then 40 ms apart
    // again while the times 20 places earlier allow; the 24th would be past the horizon.
    expect(PLANNED_WINDOW_MS).toBe(1150);
    expect(first.slots).toEqual([...Array.from({ length: RATE }, (_, i) => T + i * MIN_GAP_MS), T + 1150, T + 1190, T + 1230]);
    expect(first.nextFreeAt).toBe(T + 1270);

    const second = schedule.reserve({ count: 5, ratePerSecond: RATE, horizonMs: 2000 }, T + 500);
    expect(second.slots).toEqual([1270, 1310, 1350, 1390, 1430].map((offset) => T + offset));

    const none = schedule.reserve({ count: 5, ratePerSecond: RATE, horizonMs: 0 }, T + 500);
    expect(none).toEqual({ slots: [], nextFreeAt: T + 1470 });
    expect(schedule.reserve({ count: 0, ratePerSecond: RATE, horizonMs: 2000 }, T + 500).slots).toEqual([]);
  });

  it('grants nothing sooner than the caller’s lead', () => {
    const schedule = new PacingSchedule();
    expect(schedule.reserve({ count: 3, ratePerSecond: RATE, horizonMs: 1000, leadMs: 250 }, T).slots).toEqual([T + 250, T + 290, T + 330]);
    // A lead past the horizon gets nothing.
    expect(schedule.reserve({ count: 1, ratePerSecond: RATE, horizonMs: 100, leadMs: 250 }, T).slots).toEqual([]);
  });

  it('catches up after a pause: the planned window still gets its N calls, at no more than the catch-up rate', () => {
    const schedule = new PacingSchedule();
    const early = schedule.reserve({ count: 2, ratePerSecond: RATE, horizonMs: 1000 }, T);
    expect(early.slots).toEqual([T, T + MIN_GAP_MS]);
    // Nothing to send for a quarter second: strict 1/N spacing would have lost that capacity.
    const late = schedule.reserve({ count: 30, ratePerSecond: RATE, horizonMs: 2000 }, T + 250);
    const all = [...early.slots, ...late.slots];
    expect(all.filter((slot) => slot < T + PLANNED_WINDOW_MS)).toHaveLength(RATE);
    expect(gaps(late.slots.slice(0, RATE - 2))).toEqual(Array(RATE - 3).fill(MIN_GAP_MS));
    expect(late.slots[0]).toBe(T + 250);
    expect(late.slots[RATE - 2]).toBe(T + PLANNED_WINDOW_MS);
  });

  it('restored with only its last time, grants nothing until a planned window after it', () => {
    const restored = new PacingSchedule(T);
    const { slots } = restored.reserve({ count: 3, ratePerSecond: RATE, horizonMs: 3000 }, T + 10);
    expect(slots).toEqual([T + PLANNED_WINDOW_MS, T + PLANNED_WINDOW_MS + MIN_GAP_MS, T + PLANNED_WINDOW_MS + 2 * MIN_GAP_MS]);
  });

  it('whatever the calls and pauses: N calls started up to the tolerance late and arriving up to the transit allowance apart never share a second', () => {
    const request = fc.record({
      advanceMs: fc.integer({ min: 0, max: 1500 }),
      count: fc.integer({ min: 0, max: 60 }),
      leadMs: fc.integer({ min: 0, max: 300 }),
      horizonMs: fc.integer({ min: 0, max: 6000 }),
    });
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 3, 7, 20, 100),
        fc.array(request, { minLength: 1, maxLength: 25 }),
        fc.infiniteStream(fc.integer({ min: 0, max: START_TOLERANCE_MS })),
        fc.infiniteStream(fc.integer({ min: 0, max: TRANSIT_ALLOWANCE_MS })),
        (rate, requests, lateness, transit) => {
          const schedule = new PacingSchedule();
          const granted: number[] = [];
          let now = T;
          for (const { advanceMs, count, leadMs, horizonMs } of requests) {
            now += advanceMs;
            const { slots, nextFreeAt } = schedule.reserve({ count, ratePerSecond: rate, horizonMs, leadMs }, now);
            for (const slot of slots) {
              expect(slot).toBeGreaterThanOrEqual(now + leadMs);
              expect(slot).toBeLessThanOrEqual(now + horizonMs);
            }
            if (slots.length < count) expect(nextFreeAt - now).toBeGreaterThan(horizonMs);
            granted.push(...slots);
          }
          expect(gaps(granted).every((gap) => gap >= 1000 / (CATCH_UP_RATE * rate))).toBe(true);
          for (let i = 0; i + rate < granted.length; i++) expect(granted[i + rate]! - granted[i]!).toBeGreaterThanOrEqual(PLANNED_WINDOW_MS);
          // What the provider sees: each call started within the tolerance, then in transit.
          const arrivals = granted.map((slot) => slot + lateness.next().value + transit.next().value);
          expect(mostInOneSecond(arrivals)).toBeLessThanOrEqual(rate);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('ProviderPacer (the object)', () => {
  function newPacer() {
    return env.PROVIDER_PACER.get(env.PROVIDER_PACER.idFromName(`pacer-${crypto.randomUUID()}`));
  }

  /** Sets the object's clock (tests only): the instance keeps it until it is evicted. */
  function setClock(pacer: DurableObjectStub<ProviderPacer>, now: () => number) {
    return runInDurableObject(pacer, (instance: ProviderPacer) => {
      (instance as unknown as { clock: () => number }).clock = now;
    });
  }

  it('grants by the schedule’s rule on its clock, and keeps only its last time', async () => {
    const pacer = newPacer();
    await setClock(pacer, () => T);
    const { slots } = await pacer.reserve({ count: RATE + 1, ratePerSecond: RATE, horizonMs: 2000 });
    expect(slots).toEqual([...Array.from({ length: RATE }, (_, i) => T + i * MIN_GAP_MS), T + PLANNED_WINDOW_MS]);
    expect(await runInDurableObject(pacer, (_, state) => state.storage.get('lastSlot'))).toBe(T + PLANNED_WINDOW_MS);
  });

  it('after a restart grants nothing until a planned window after the last time it had granted', async () => {
    const pacer = newPacer();
    await setClock(pacer, () => T);
    const before = await pacer.reserve({ count: RATE, ratePerSecond: RATE, horizonMs: 2000 });
    const last = before.slots.at(-1)!;
    // The in-memory log of the last window is gone; only the last time is stored.
    await evictDurableObject(pacer);
    await setClock(pacer, () => T + 100);
    const after = await pacer.reserve({ count: 5, ratePerSecond: RATE, horizonMs: 3000 });
    expect(after.slots[0]).toBe(last + PLANNED_WINDOW_MS);
    expect(gaps(after.slots)).toEqual(Array(4).fill(MIN_GAP_MS));
  });

  it('after an upgrade from the strictly spaced pacer, waits a planned window past the time it had stored', async () => {
    const pacer = newPacer();
    await runInDurableObject(pacer, (_, state) => state.storage.put('nextFreeAt', T + 300));
    await evictDurableObject(pacer);
    await setClock(pacer, () => T);
    const { slots } = await pacer.reserve({ count: 1, ratePerSecond: RATE, horizonMs: 2000 });
    expect(slots).toEqual([T + 300 + PLANNED_WINDOW_MS]);
    const stored = await runInDurableObject(pacer, (_, state) => state.storage.get(['lastSlot', 'nextFreeAt']));
    expect(Object.fromEntries(stored)).toEqual({ lastSlot: slots[0] });
  });

  it('a full batch at the production rate fits the horizon', async () => {
    expect(pacingHorizonMs(RATE)).toBe(5750);
    expect(pacingHorizonMs(100)).toBe(2000);
    expect(pacingHorizonMs(1)).toBe(10_000);
    const pacer = newPacer();
    await setClock(pacer, () => T);
    const { slots } = await pacer.reserve({ count: SEND_BATCH_SIZE, ratePerSecond: RATE, horizonMs: pacingHorizonMs(RATE) });
    expect(slots).toHaveLength(SEND_BATCH_SIZE);
    expect(mostInOneSecond(slots)).toBe(RATE);
  });

  it("SEND_BATCH_SIZE is the send queue's max_batch_size in every environment of wrangler.toml", () => {
    const sizes = [...wranglerToml.matchAll(/queue = "otp-send"\n(?:#.*\n)*max_batch_size = (\d+)/g)].map((match) => Number(match[1]));
    expect(sizes).toEqual([SEND_BATCH_SIZE, SEND_BATCH_SIZE]);
  });

  it('refuses malformed input', async () => {
    await runInDurableObject(newPacer(), async (instance: ProviderPacer) => {
      await expect(instance.reserve({ count: 1, ratePerSecond: 0, horizonMs: 1000 })).rejects.toThrow(/too small/i);
      await expect(instance.reserve({ count: -1, ratePerSecond: RATE, horizonMs: 1000 })).rejects.toThrow(/too small/i);
      await expect(instance.reserve({ count: 1, ratePerSecond: RATE, horizonMs: 60_001 })).rejects.toThrow(/too big/i);
      await expect(instance.reserve({ count: 1, ratePerSecond: RATE, horizonMs: 1000, leadMs: -1 })).rejects.toThrow(/too small/i);
    });
  });
});

/**
 * A provider that enforces its account limit over a strict rolling second, the harshest reading
 * of "20 requests/s": a call arriving when `rate` calls arrived within the last second gets a 429.
 */
function rateLimitedProvider(rate: number) {
  const accepted: number[] = [];
  let rejected = 0;
  const calls = interceptOrigin(PROVIDER_URL, {
    [SEND_ROUTE]: () => {
      const now = Date.now();
      if (accepted.filter((at) => at > now - 1000).length >= rate) {
        rejected += 1;
        return json(429, { message: 'rate limited' }, { 'Retry-After': '1' });
      }
      accepted.push(now);
      return json(201, { success: true, data: { messageId: `m${accepted.length}` } });
    },
  });
  return { calls, rejected: () => rejected };
}

/** `db` whose batches (the claim among them) take `delayMs` longer, as D1 under load can. */
function withSlowBatches(db: D1Database, delayMs: number): D1Database {
  return new Proxy(db, {
    get(target, property) {
      if (property === 'batch') {
        return async (statements: D1PreparedStatement[]) => {
          await new Promise((resolve) => setTimeout(resolve, delayMs));
          return target.batch(statements);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function startedAtOf(requestIds: string[]): Promise<number[]> {
  const placeholders = requestIds.map((_, index) => `?${index + 1}`).join(', ');
  const { results } = await env.DB.prepare(`SELECT started_at FROM delivery_attempts WHERE request_id IN (${placeholders})`)
    .bind(...requestIds)
    .all<{ started_at: number }>();
  return results.map((row) => row.started_at);
}

describe('provider pacing in the consumer', () => {
  /** Plays the queue: delivers batches of the shipped size and redelivers what was retried. */
  async function drain(testEnv: Env, requestIds: string[]) {
    let pending = [...requestIds];
    let rounds = 0;
    for (; pending.length > 0 && rounds < 20; rounds++) {
      const batch = pending.slice(0, SEND_BATCH_SIZE);
      const { ids, result } = await deliverSendJobs(testEnv, batch, rounds + 1);
      const retried = new Set(result.retryMessages.map((message) => message.msgId));
      pending = [...batch.filter((_, index) => retried.has(ids[index]!)), ...pending.slice(SEND_BATCH_SIZE)];
    }
    return { pending, rounds };
  }

  it.each([
    ['with D1 answering at once', 0],
    ['with a claim so slow that the first send times pass before it returns', 400],
  ])(
    '100 users at once all get their SMS, %s; no rolling second holds more than 20 calls, and the provider answers no 429',
    { timeout: 60_000 },
    async (_name, claimDelayMs) => {
      const requests = await Promise.all(Array.from({ length: 100 }, () => seedRequest()));
      const ids = requests.map((request) => request.id);
      const provider = rateLimitedProvider(RATE);
      const { testEnv: paced } = withOwnPacer(startMessagingEnv({ PROVIDER_RATE_PER_SECOND: String(RATE) }));
      const testEnv = { ...paced, DB: withSlowBatches(env.DB, claimDelayMs) } as Env;

      const { pending } = await drain(testEnv, ids);
      expect(pending).toEqual([]);
      expect(provider.rejected()).toBe(0);
      expect(provider.calls).toHaveLength(100);
      // The start times the consumer recorded: each within the tolerance of a granted time.
      const starts = await startedAtOf(ids);
      expect(starts).toHaveLength(100);
      expect(mostInOneSecond(starts)).toBeLessThanOrEqual(RATE);
      for (const request of requests) expect(await requestRow(request.id)).toMatchObject({ status: 'sent', attempts: 1 });
    },
  );
});
