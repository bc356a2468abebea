import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { BudgetLeases, type BudgetShape, growthUnitsFor, type LeaseCall, leaseUnitsFor } from '../src/limiter/budget-leases';
import { rateLimiterFor } from '../src/limiter/limiter-client';
import type { RateLimiter } from '../src/limiter/rate-limiter';

/** Shards of one budget in the real RateLimiter objects, each call counted. */
function shardsOf(name: string) {
  const key = (shard: number) => `lease-test:${name}:${shard}`;
  const calls: number[] = [];
  const call: LeaseCall = (shard, input) => {
    calls.push(shard);
    return rateLimiterFor(env, key(shard)).lease(input);
  };
  const leasedUnits = (shard: number) =>
    runInDurableObject(
      rateLimiterFor(env, key(shard)),
      (_i: RateLimiter, state) => state.storage.sql.exec<{ n: number | null }>('SELECT SUM(n) AS n FROM leases').one().n ?? 0,
    );
  const age = (shard: number, ms: number) =>
    runInDurableObject(rateLimiterFor(env, key(shard)), (_i: RateLimiter, state) => {
      state.storage.sql.exec('UPDATE leases SET at = at - ?', ms);
    });
  return { call, calls, leasedUnits, age };
}

/** An isolate's clock: the real one (the objects') moved on by `offset` ms. */
const clockAt = (offset: { ms: number }) => () => Date.now() + offset.ms;

describe('budget leases', () => {
  it('many isolates leasing at once never admit more than the budget, and strand at most their lease sizes', async () => {
    const shards = 4;
    const shape: BudgetShape = { rules: [{ limit: 1000, windowSeconds: 60 }], shards, maxUnits: 16, leaseMs: 10_000 };
    const { call, calls, leasedUnits } = shardsOf(crypto.randomUUID());
    const isolates = Array.from({ length: 40 }, () => new BudgetLeases(shape));
    const refills: Promise<unknown>[] = [];
    const background = (work: Promise<unknown>) => refills.push(work);
    let admitted = 0;
    /** 500 sends at once over the isolates, a tenth of them refused by another scope (their unit given back). */
    const wave = async (offset: number) => {
      const outcomes = await Promise.all(
        Array.from({ length: 500 }, async (_, i) => {
          const taken = await isolates[(i * 7 + offset) % isolates.length]!.take(call, background);
          if (taken.ok && i % 10 === 0) taken.giveBack();
          return taken.ok && i % 10 !== 0;
        }),
      );
      admitted += outcomes.filter(Boolean).length;
      return outcomes.filter(Boolean).length;
    };
    // Well within the budget, most sends make no call at all.
    for (let offset = 0; offset < 4; offset++) await wave(offset);
    await Promise.all(refills);
    expect(admitted).toBeGreaterThan(1700);
    expect(calls.length).toBeLessThan(admitted / 8);
    // Then 3,000 more sends for what is left of the budget of 4,000.
    for (let offset = 4; offset < 10; offset++) await wave(offset);
    await Promise.all(refills);

    const budget = shape.rules[0]!.limit * shards;
    const units = leaseUnitsFor(shape.rules, shape.maxUnits);
    expect(units).toBe(16);
    expect(admitted).toBeLessThanOrEqual(budget);
    const leased = await Promise.all(Array.from({ length: shards }, (_, shard) => leasedUnits(shard)));
    for (const shardUnits of leased) expect(shardUnits).toBeLessThanOrEqual(shape.rules[0]!.limit);
    // What was leased and not admitted: held by isolates (at most their lease and its refill each),
    // or given back to a lease already spent (lost until it leaves the window).
    const held = isolates.reduce((total, isolate) => total + isolate.held(), 0);
    expect(held).toBeLessThanOrEqual(isolates.length * (units + Math.floor(units / 4)));
    expect(admitted + held).toBeLessThanOrEqual(leased.reduce((a, b) => a + b, 0));
    expect(admitted + held).toBeGreaterThan(budget * 0.9);
  });

  it('a lease counts for a whole window after its end, so units spent late in it cannot be spent again within a window', async () => {
    const shape: BudgetShape = { rules: [{ limit: 64, windowSeconds: 60 }], shards: 1, maxUnits: 2, leaseMs: 10_000 };
    const { call, age } = shardsOf(crypto.randomUUID());
    const late = { ms: 0 };
    expect(leaseUnitsFor(shape.rules, shape.maxUnits)).toBe(2);
    // Small leases: 32 isolates take the whole budget, and spend their units at the end of their leases.
    const isolates = Array.from({ length: 32 }, () => new BudgetLeases(shape, clockAt(late)));
    for (const isolate of isolates) expect((await isolate.take(call)).ok).toBe(true);
    late.ms = 9_000;
    for (const isolate of isolates) expect((await isolate.take(call)).ok).toBe(true);
    expect(await new BudgetLeases(shape).take(call)).toMatchObject({ ok: false });
    // A window after the leases were granted, the units spent 9 s into them are still in the window.
    await age(0, 60_000);
    expect(await new BudgetLeases(shape).take(call)).toMatchObject({ ok: false });
    // A window after the leases ended, they are not.
    await age(0, 10_000);
    expect((await new BudgetLeases(shape).take(call)).ok).toBe(true);
  });

  it('a refusal answers the time until a unit frees; the other shard is tried first', async () => {
    const shape: BudgetShape = { rules: [{ limit: 1, windowSeconds: 60 }], shards: 2, maxUnits: 16, leaseMs: 10_000 };
    const { call, calls } = shardsOf(crypto.randomUUID());
    const isolate = new BudgetLeases(shape);
    expect((await isolate.take(call)).ok).toBe(true);
    expect((await isolate.take(call)).ok).toBe(true);
    const refused = await isolate.take(call);
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    // Granted at most a moment ago, the lease ends 10 s later and leaves the window 60 s after that.
    expect(refused.retryAfterSeconds).toBeGreaterThan(65);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(70);
    expect(new Set(calls)).toEqual(new Set([0, 1]));
  });

  it('a unit given back is spent again without a call; a lapsed lease returns its unspent units with the next call', async () => {
    const shape: BudgetShape = { rules: [{ limit: 640, windowSeconds: 60 }], shards: 1, maxUnits: 10, leaseMs: 10_000 };
    const { call, calls, leasedUnits } = shardsOf(crypto.randomUUID());
    const later = { ms: 0 };
    const isolate = new BudgetLeases(shape, clockAt(later));
    const first = await isolate.take(call);
    if (!first.ok) throw new Error('refused');
    first.giveBack();
    for (let i = 0; i < 3; i++) expect((await isolate.take(call)).ok).toBe(true);
    expect(calls).toHaveLength(1);
    expect(await leasedUnits(0)).toBe(10);
    // The lease lapses with 7 units unspent: the next lease gives them back.
    later.ms = 10_000;
    expect((await isolate.take(call)).ok).toBe(true);
    expect(calls).toHaveLength(2);
    expect(await leasedUnits(0)).toBe(3 + 10);
  });

  it('a lease holds what its isolate spends in half a lease’s time: a busy one makes few calls, a quiet or paused one takes small leases', async () => {
    const shape: BudgetShape = { rules: [{ limit: 640, windowSeconds: 60 }], shards: 1, maxUnits: 10, growUnits: 1000, leaseMs: 10_000 };
    expect([leaseUnitsFor(shape.rules, shape.maxUnits), growthUnitsFor(shape.rules, shape.maxUnits, shape.growUnits)]).toEqual([10, 160]);
    const { call, calls, leasedUnits } = shardsOf(crypto.randomUUID());
    const later = { ms: 0 };
    // The isolate's clock moves only as the test says (the objects' is the real one).
    const start = Date.now();
    const clock = () => start + later.ms;
    const isolate = new BudgetLeases(shape, clock);
    const sizes: number[] = [];
    /** `count` sends, one every `gapMs`, noting each new lease size. */
    const spend = async (count: number, gapMs: number) => {
      for (let sent = 0; sent < count; sent++) {
        expect((await isolate.take(call)).ok).toBe(true);
        if (sizes.at(-1) !== isolate.leaseSize()) sizes.push(isolate.leaseSize());
        later.ms += gapMs;
      }
    };
    // 20 sends a second: 100 in five seconds, so leases of 100 after the first.
    await spend(300, 50);
    expect(sizes).toEqual([10, 100]);
    expect(calls).toHaveLength(4);
    // 100 a second: leases reach their ceiling, a quarter of the window.
    await spend(200, 10);
    expect(isolate.leaseSize()).toBe(160);
    expect(isolate.held()).toBeLessThanOrEqual(160 + 40);
    expect(await leasedUnits(0)).toBeLessThanOrEqual(640);
    // After a pause (the lease lapsed, its units go back), the next lease is sized by the slow rate.
    later.ms += 30_000;
    await spend(1, 0);
    expect(isolate.leaseSize()).toBeLessThan(20);
    // One send a second never grows a lease.
    const quiet = new BudgetLeases(shape, clock);
    for (let sent = 0; sent < 25; sent++) {
      expect((await quiet.take(call)).ok).toBe(true);
      later.ms += 1_000;
    }
    expect(quiet.leaseSize()).toBe(10);
  });

  it('grown leases keep the bound: many busy isolates never admit more than the budget', async () => {
    const shards = 4;
    const shape: BudgetShape = { rules: [{ limit: 1000, windowSeconds: 60 }], shards, maxUnits: 16, growUnits: 1000, leaseMs: 10_000 };
    const most = growthUnitsFor(shape.rules, shape.maxUnits, shape.growUnits);
    expect(most).toBe(250);
    const { call, leasedUnits } = shardsOf(crypto.randomUUID());
    const isolates = Array.from({ length: 40 }, () => new BudgetLeases(shape));
    const refills: Promise<unknown>[] = [];
    let admitted = 0;
    for (let wave = 0; wave < 10; wave++) {
      const outcomes = await Promise.all(
        Array.from({ length: 500 }, async (_, i) => (await isolates[(i * 7 + wave) % isolates.length]!.take(call, (work) => refills.push(work))).ok),
      );
      admitted += outcomes.filter(Boolean).length;
    }
    await Promise.all(refills);
    const leased = await Promise.all(Array.from({ length: shards }, (_, shard) => leasedUnits(shard)));
    for (const shardUnits of leased) expect(shardUnits).toBeLessThanOrEqual(shape.rules[0]!.limit);
    expect(admitted).toBeLessThanOrEqual(shape.rules[0]!.limit * shards);
    const held = isolates.reduce((total, isolate) => total + isolate.held(), 0);
    expect(held).toBeLessThanOrEqual(isolates.length * (most + Math.floor(most / 4)));
    expect(admitted + held).toBeLessThanOrEqual(leased.reduce((a, b) => a + b, 0));
  });
});
