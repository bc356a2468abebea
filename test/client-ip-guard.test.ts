import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { ClientIpGuard } from '../src/limiter/client-ip-guard';
import { CLIENT_IP_SHARDS, clientIpShardOf } from '../src/limiter/client-ip-shards';
import { ipLimitKey } from '../src/limiter/limiter-client';
import type { RateLimiter } from '../src/limiter/rate-limiter';

/** A shard of its own per test (the object does not care what it is called), so no test sees another's rows. */
const freshShard = () => env.CLIENT_IP_GUARD.get(env.CLIENT_IP_GUARD.idFromName(`test-shard:${crypto.randomUUID()}`));
const keyOf = async (ip: string) => (await clientIpShardOf(ipLimitKey(ip))).ipKey;

type Guard = DurableObjectStub<ClientIpGuard>;
const rowsOf = (guard: Guard, ipKey: string) =>
  runInDurableObject(
    guard,
    (_i: ClientIpGuard, state) => state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM ip_sends WHERE ip_key = ?', ipKey).one().n,
  );
const ageRows = (guard: Guard, ipKey: string, ms: number) =>
  runInDurableObject(guard, (_i: ClientIpGuard, state) => {
    state.storage.sql.exec('UPDATE ip_sends SET at = at - ? WHERE ip_key = ?', ms, ipKey);
  });

describe('choosing the shard', () => {
  it('names the shard by a number only, and knows the address by the hash of its key', async () => {
    const shard = await clientIpShardOf(ipLimitKey('203.0.113.9'));
    expect(shard.shard).toMatch(/^client-ip:\d+$/);
    expect(Number(shard.shard.split(':')[1])).toBeLessThan(CLIENT_IP_SHARDS);
    expect(shard.ipKey).toMatch(/^[0-9a-f]{64}$/);
    // The same key always goes to the same shard: each address has exactly one.
    expect(await clientIpShardOf(ipLimitKey('203.0.113.9'))).toEqual(shard);
  });

  it('spreads addresses over the shards', async () => {
    const shards = new Set<string>();
    for (let i = 0; i < 2000; i++) shards.add((await clientIpShardOf(ipLimitKey(`10.${i >> 8}.${i & 255}.1`))).shard);
    // 2,000 keys over 256 shards leave on average under one empty; a constant or a bad hash fills a few.
    expect(shards.size).toBeGreaterThan(250);
  });
});

describe('ClientIpGuard', () => {
  it('is exact per address under 100 concurrent sends from each of two addresses of one shard', async () => {
    const guard = freshShard();
    const [a, b] = await Promise.all([keyOf('203.0.113.1'), keyOf('203.0.113.2')]);
    const rules = [{ limit: 7, windowSeconds: 60 }];
    const decisions = await Promise.all(Array.from({ length: 200 }, (_, i) => guard.consume({ ipKey: i % 2 ? a : b, rules })));
    expect(decisions.filter((decision, i) => decision.allowed && i % 2)).toHaveLength(7);
    expect(decisions.filter((decision, i) => decision.allowed && !(i % 2))).toHaveLength(7);
    expect(await rowsOf(guard, a)).toBe(7);
    expect(await rowsOf(guard, b)).toBe(7);
  });

  it('decides like RateLimiter.consume: the same admissions, remaining and Retry-After, windows and cooldown', async () => {
    const guard = freshShard();
    const limiter = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`parity:${crypto.randomUUID()}`));
    const ipKey = await keyOf('203.0.113.3');
    const rules = [
      { limit: 2, windowSeconds: 60 },
      { limit: 3, windowSeconds: 3600 },
    ];
    const cooldown = { scheduleSeconds: [0, 20], resetSeconds: 3600 };
    const both = async () => {
      const [fromGuard, fromLimiter] = await Promise.all([guard.consume({ ipKey, rules, cooldown }), limiter.consume({ rules, cooldown })]);
      // The ids are each object's own; `used` is only a failure budget's.
      const { eventId: _g, ...shardDecision } = fromGuard;
      const { eventId: _l, used: _u, ...limiterDecision } = fromLimiter;
      expect(shardDecision).toEqual(limiterDecision);
      return shardDecision;
    };
    const age = async (ms: number) => {
      await ageRows(guard, ipKey, ms);
      await runInDurableObject(limiter, (_i: RateLimiter, state) => {
        state.storage.sql.exec('UPDATE events SET at = at - ?', ms);
      });
    };
    expect(await both()).toEqual({ allowed: true, remaining: 1, retryAfterSeconds: 0 });
    // The second send within the cooldown's reset waits 0 s, the third 20 s after the latest.
    expect(await both()).toEqual({ allowed: true, remaining: 0, retryAfterSeconds: 0 });
    const minute = await both();
    expect(minute.allowed).toBe(false);
    expect(minute.retryAfterSeconds).toBeGreaterThan(55);
    expect(minute.retryAfterSeconds).toBeLessThanOrEqual(60);
    await age(61_000);
    // The minute has room again; the hour has one send left, so nothing remains after this one.
    expect(await both()).toEqual({ allowed: true, remaining: 0, retryAfterSeconds: 0 });
    const cooling = await both();
    expect(cooling.allowed).toBe(false);
    expect(cooling.retryAfterSeconds).toBeGreaterThan(3400);
    expect(cooling.retryAfterSeconds).toBeLessThanOrEqual(3600 - 61);
  });

  it('a refund takes back exactly the event it names, of the address it names', async () => {
    const guard = freshShard();
    const [a, b] = await Promise.all([keyOf('203.0.113.4'), keyOf('203.0.113.5')]);
    const rules = [{ limit: 5, windowSeconds: 60 }];
    const first = await guard.consume({ ipKey: a, rules });
    const second = await guard.consume({ ipKey: a, rules });
    await guard.consume({ ipKey: b, rules });
    // Another address's id, or another event's, takes nothing back.
    await guard.refund(b, first.eventId!);
    expect(await rowsOf(guard, a)).toBe(2);
    await guard.refund(a, first.eventId!);
    expect(await rowsOf(guard, a)).toBe(1);
    expect(await rowsOf(guard, b)).toBe(1);
    await guard.refund(a, second.eventId!);
    expect(await rowsOf(guard, a)).toBe(0);
  });

  it('refuses a raw address or malformed rules instead of admitting', async () => {
    const guard = freshShard();
    const ipKey = await keyOf('203.0.113.6');
    // Called on the instance: a rejection thrown across RPC is reported by the pool as unhandled.
    await runInDurableObject(guard, async (instance: ClientIpGuard) => {
      await expect(instance.consume({ ipKey: '203.0.113.6', rules: [{ limit: 1, windowSeconds: 60 }] })).rejects.toThrow(/SHA-256/);
      await expect(instance.consume({ ipKey, rules: [] })).rejects.toThrow(/too small/i);
    });
  });
});

describe('ClientIpGuard storage', () => {
  it('prunes sends older than the longest window with its first call, then at most once per window', async () => {
    const guard = freshShard();
    const [old, fresh] = await Promise.all([keyOf('203.0.113.7'), keyOf('203.0.113.8')]);
    const rules = [{ limit: 5, windowSeconds: 3600 }];
    const insertOld = () =>
      runInDurableObject(guard, (_i: ClientIpGuard, state) => {
        state.storage.sql.exec('INSERT INTO ip_sends (ip_key, at, id) VALUES (?, ?, ?)', old, Date.now() - 3_601_000, Math.floor(Math.random() * 1e9));
      });
    await insertOld();
    await guard.consume({ ipKey: fresh, rules });
    expect(await rowsOf(guard, old)).toBe(0);
    // Within the window it does not scan again: a row left since stays until the next prune or the alarm.
    await insertOld();
    await guard.consume({ ipKey: fresh, rules });
    expect(await rowsOf(guard, old)).toBe(1);
    expect(await rowsOf(guard, fresh)).toBe(2);
  });

  it('keeps every row for the longest window any address of the shard was asked with', async () => {
    const guard = freshShard();
    const [daily, hourly] = await Promise.all([keyOf('203.0.113.9'), keyOf('203.0.113.10')]);
    // What an earlier instance left: a send two hours old under a day's window, and that retention.
    await runInDurableObject(guard, async (_i: ClientIpGuard, state) => {
      await state.storage.put('keepMs', 86_400_000);
      state.storage.sql.exec('INSERT INTO ip_sends (ip_key, at, id) VALUES (?, ?, 1)', daily, Date.now() - 7_200_000);
    });
    // The first call prunes; asked with an hour's window, it still keeps the day's send.
    expect((await guard.consume({ ipKey: hourly, rules: [{ limit: 5, windowSeconds: 3600 }] })).allowed).toBe(true);
    expect(await rowsOf(guard, daily)).toBe(1);
    expect((await guard.consume({ ipKey: daily, rules: [{ limit: 1, windowSeconds: 86_400 }] })).allowed).toBe(false);
  });

  it('its alarm drops aged sends, and clears the shard once every send has aged out', async () => {
    const guard = freshShard();
    const [a, b] = await Promise.all([keyOf('203.0.113.11'), keyOf('203.0.113.12')]);
    const rules = [{ limit: 5, windowSeconds: 60 }];
    await guard.consume({ ipKey: a, rules });
    await guard.consume({ ipKey: b, rules });
    expect(await runInDurableObject(guard, (_i: ClientIpGuard, state) => state.storage.getAlarm())).not.toBeNull();

    await ageRows(guard, a, 120_000);
    expect(await runDurableObjectAlarm(guard)).toBe(true);
    expect(await rowsOf(guard, a)).toBe(0);
    expect(await rowsOf(guard, b)).toBe(1);
    expect(await runInDurableObject(guard, (_i: ClientIpGuard, state) => state.storage.getAlarm())).not.toBeNull();

    await ageRows(guard, b, 120_000);
    expect(await runDurableObjectAlarm(guard)).toBe(true);
    const left = await runInDurableObject(guard, async (_i: ClientIpGuard, state) => ({
      rows: state.storage.sql.exec('SELECT * FROM ip_sends').toArray().length,
      alarm: await state.storage.getAlarm(),
      kv: (await state.storage.list()).size,
    }));
    expect(left).toEqual({ rows: 0, alarm: null, kv: 0 });
    // Cleared, it works as a new shard.
    expect((await guard.consume({ ipKey: a, rules })).remaining).toBe(4);
  });
});
