import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { HOLD_TTL_MS, type RateLimiter } from '../src/limiter/rate-limiter';

const stubFor = (key: string) => env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(key));

describe('RateLimiter Durable Object', () => {
  it('admits up to each window’s limit, then denies with the time until a slot frees', async () => {
    const stub = stubFor(`t-${crypto.randomUUID()}`);
    const rules = [
      { limit: 2, windowSeconds: 60 },
      { limit: 3, windowSeconds: 3600 },
    ];
    const first = await stub.consume({ rules });
    expect(first).toMatchObject({ allowed: true, remaining: 1 });
    expect((await stub.consume({ rules })).allowed).toBe(true);
    const denied = await stub.consume({ rules });
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterSeconds).toBeGreaterThan(55);
    expect(denied.retryAfterSeconds).toBeLessThanOrEqual(60);
  });

  it('is exact under 100 concurrent calls', async () => {
    const stub = stubFor(`t-${crypto.randomUUID()}`);
    const rules = [{ limit: 7, windowSeconds: 60 }];
    const decisions = await Promise.all(Array.from({ length: 100 }, () => stub.consume({ rules })));
    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(7);
  });

  it('a denied call consumes nothing', async () => {
    const stub = stubFor(`t-${crypto.randomUUID()}`);
    const rules = [{ limit: 1, windowSeconds: 60 }];
    await stub.consume({ rules });
    for (let i = 0; i < 5; i++) await stub.consume({ rules });
    const hits = await runInDurableObject(
      stub,
      (_instance: RateLimiter, state) => state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM events').one().n,
    );
    expect(hits).toBe(1);
  });

  it('frees a slot once the oldest hit leaves the window', async () => {
    const stub = stubFor(`t-${crypto.randomUUID()}`);
    const rules = [{ limit: 1, windowSeconds: 60 }];
    await stub.consume({ rules });
    expect((await stub.consume({ rules })).allowed).toBe(false);
    await runInDurableObject(stub, (_instance: RateLimiter, state) => {
      state.storage.sql.exec('UPDATE events SET at = at - 61000');
    });
    expect((await stub.consume({ rules })).allowed).toBe(true);
  });

  it('refuses malformed rules instead of admitting', async () => {
    const stub = stubFor(`t-${crypto.randomUUID()}`);
    // Called on the instance: a rejection thrown across RPC is reported by the pool as unhandled.
    await runInDurableObject(stub, async (instance: RateLimiter) => {
      await expect(instance.consume({ rules: [] })).rejects.toThrow(/too small/i);
      await expect(instance.consume({ rules: [{ limit: 0, windowSeconds: 60 }] })).rejects.toThrow(/too small/i);
    });
  });

  it('its alarm deletes all storage once every hit has left the windows', async () => {
    const stub = stubFor(`t-${crypto.randomUUID()}`);
    const rules = [{ limit: 5, windowSeconds: 60 }];
    await stub.consume({ rules });
    expect(await runInDurableObject(stub, (_i: RateLimiter, state) => state.storage.getAlarm())).not.toBeNull();

    // Still inside the window: the alarm keeps the hit and re-arms.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runInDurableObject(stub, (_i: RateLimiter, state) => state.storage.sql.exec('SELECT * FROM events').toArray().length)).toBe(1);

    await runInDurableObject(stub, (_i: RateLimiter, state) => {
      state.storage.sql.exec('UPDATE events SET at = at - 120000');
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const left = await runInDurableObject(stub, async (_i: RateLimiter, state) => ({
      hits: state.storage.sql.exec('SELECT * FROM events').toArray().length,
      alarm: await state.storage.getAlarm(),
      kv: (await state.storage.list()).size,
    }));
    expect(left).toEqual({ hits: 0, alarm: null, kv: 0 });
    // And the object still works afterwards.
    expect((await stub.consume({ rules })).allowed).toBe(true);
  });
});

const storedEvents = (stub: ReturnType<typeof stubFor>) =>
  runInDurableObject(stub, (_instance: RateLimiter, state) => state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM events').one().n);

describe('RateLimiter holds (a budget of failures)', () => {
  const rules = [{ limit: 3, windowSeconds: 3600 }];

  it('counts lent events while they are out, so concurrent holds cannot overdraw', async () => {
    const stub = stubFor(`t-${crypto.randomUUID()}`);
    const decisions = await Promise.all(Array.from({ length: 20 }, () => stub.hold({ rules })));
    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(3);
    // Nothing is written while the holds are out.
    expect(await storedEvents(stub)).toBe(0);
  });

  it('writes an event only for a hold settled as counting; a dropped hold frees its unit', async () => {
    const stub = stubFor(`t-${crypto.randomUUID()}`);
    const first = await stub.hold({ rules });
    const second = await stub.hold({ rules });
    await stub.settle({ holdId: first.holdId!, counts: false, rules });
    await stub.settle({ holdId: second.holdId!, counts: true, rules });
    expect(await storedEvents(stub)).toBe(1);
    // One unit written, none out: two more holds fit, the third does not.
    expect((await stub.hold({ rules })).allowed).toBe(true);
    expect((await stub.hold({ rules })).allowed).toBe(true);
    const denied = await stub.hold({ rules });
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterSeconds).toBeGreaterThan(3500);
  });

  it('a counting settle answers the budget’s state: spent, and until when, by the event that spends it', async () => {
    const stub = stubFor(`t-${crypto.randomUUID()}`);
    const states = [];
    for (let i = 0; i < 3; i++) {
      const lent = await stub.hold({ rules });
      states.push(await stub.settle({ holdId: lent.holdId!, counts: true, rules }));
    }
    expect(states.slice(0, 2)).toEqual([
      { used: 1, spentUntil: null },
      { used: 2, spentUntil: null },
    ]);
    const oldest = await runInDurableObject(
      stub,
      (_i: RateLimiter, state) => state.storage.sql.exec<{ at: number }>('SELECT MIN(at) AS at FROM events').one().at,
    );
    expect(states[2]).toEqual({ used: 3, spentUntil: oldest + 3_600_000 });
    const refused = await stub.hold({ rules });
    expect(refused).toMatchObject({ allowed: false, used: 3 });
    // Clearing starts the budget afresh.
    await stub.clear();
    expect((await stub.hold({ rules })).allowed).toBe(true);
  });

  it('a hold settled as counting after the object lost it is still written', async () => {
    const stub = stubFor(`t-${crypto.randomUUID()}`);
    await stub.settle({ holdId: 41, counts: true, rules });
    await stub.settle({ holdId: 42, counts: false, rules });
    expect(await storedEvents(stub)).toBe(1);
  });

  it('a hold nobody settles is written once it is abandoned (its caller died): it never comes back free', async () => {
    const stub = stubFor(`t-${crypto.randomUUID()}`);
    const lent = await stub.hold({ rules });
    await runInDurableObject(stub, (instance: RateLimiter) => {
      const holds = (instance as unknown as { holds: Map<number, { at: number }> }).holds;
      holds.get(lent.holdId!)!.at -= HOLD_TTL_MS + 1;
    });
    expect((await stub.hold({ rules })).allowed).toBe(true);
    expect(await storedEvents(stub)).toBe(1);
  });
});
