import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { prefixGuardFor } from '../src/limiter/limiter-client';
import { type AdmitInput, PrefixGuard } from '../src/limiter/prefix-guard';
import { QUIET_PUMPING, reloadSendIndex } from './support/phone-sends';

/**
 * The PrefixGuard's one send log: a row per admitted send that the prefix and the number both
 * count, the numbers' windows answered from an index built from it, and the logs of objects made
 * before it carried over.
 */

let prefixCounter = 0;
/** A prefix of its own per test (+44 7000 to +44 7099, not used by other tests), so no object is shared. */
const freshPrefix = () => `+4470${String(prefixCounter++).padStart(2, '0')}`;

const pumping = QUIET_PUMPING;
const phone = { rules: [{ limit: 3, windowSeconds: 600 }], cooldown: { scheduleSeconds: [0, 30, 60], resetSeconds: 3600 } };

function sendTo(prefix: string, number: string, extra: Partial<AdmitInput> = {}): AdmitInput {
  return {
    prefix,
    requestId: `otp_${crypto.randomUUID()}`,
    numberKey: `number-${number}`,
    blockKey: `thousand-block-${number}`,
    rules: [{ limit: 100, windowSeconds: 3600 }],
    pumping,
    phone,
    ...extra,
  };
}

/** Counts the rows the object's SQL statements write, and its key-value and alarm writes, while `work` runs. */
async function writesOf(state: DurableObjectState, work: () => Promise<unknown>): Promise<{ rows: number; kv: number }> {
  const sql = state.storage.sql;
  const storage = state.storage;
  const exec = sql.exec;
  const cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
  let kv = 0;
  const originals = { put: storage.put, delete: storage.delete, setAlarm: storage.setAlarm };
  sql.exec = ((query: string, ...bindings: unknown[]) => {
    const cursor = exec.call(sql, query, ...bindings);
    cursors.push(cursor);
    return cursor;
  }) as typeof sql.exec;
  for (const name of ['put', 'delete', 'setAlarm'] as const) {
    const original = originals[name] as (...args: unknown[]) => unknown;
    (storage as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      kv += 1;
      return original.apply(storage, args);
    };
  }
  try {
    await work();
  } finally {
    sql.exec = exec;
    Object.assign(storage, originals);
  }
  return { rows: cursors.reduce((total, cursor) => total + cursor.rowsWritten, 0), kv };
}

describe('the PrefixGuard send log', () => {
  it('writes one row per admitted send and one per verification, and none for a refusal', async () => {
    const prefix = freshPrefix();
    const stub = prefixGuardFor(env, prefix);
    // The first send of an object also stores its retention and sets its alarm.
    expect((await stub.admit(sendTo(prefix, '1'))).allowed).toBe(true);
    const first = sendTo(prefix, '1');
    await stub.admit(first);
    await stub.recordVerification(first.requestId, 86_400);

    await runInDurableObject(stub, async (instance: PrefixGuard, state) => {
      const admitted = sendTo(prefix, '2');
      expect(await writesOf(state, () => instance.admit(admitted))).toEqual({ rows: 1, kv: 0 });
      expect(await writesOf(state, () => instance.recordVerification(admitted.requestId, 86_400))).toEqual({ rows: 1, kv: 0 });
      // Number 1 has had two sends, and the cooldown's second step is 30 s.
      const refused = await writesOf(state, async () => expect((await instance.admit(sendTo(prefix, '1'))).allowed).toBe(false));
      expect(refused).toEqual({ rows: 0, kv: 0 });
    });
  });

  it('an object started again builds its index from the log and answers exactly as before', async () => {
    const prefix = freshPrefix();
    const stub = prefixGuardFor(env, prefix);
    for (let i = 0; i < 2; i++) expect((await stub.admit(sendTo(prefix, '7'))).allowed).toBe(true);
    const refunded = sendTo(prefix, '8');
    expect((await stub.admit(refunded)).allowed).toBe(true);
    await stub.refund(refunded.requestId);
    await runInDurableObject(stub, async (running: PrefixGuard, state) => {
      const restarted = new PrefixGuard(state, env);
      for (const number of ['7', '8', '9']) {
        const probe = sendTo(prefix, number, { phone: { rules: [{ limit: 2, windowSeconds: 600 }] } });
        const [before, after] = [await running.admit({ ...probe, requestId: 'probe-a' }), await restarted.admit({ ...probe, requestId: 'probe-b' })];
        expect(after).toEqual(before);
        if (before.allowed) {
          await running.refund('probe-a');
          await restarted.refund('probe-b');
        }
      }
      // Number 7 sent twice (refused by the limit of 2), 8's send refunded, 9 never sent.
      const probed = await restarted.admit(sendTo(prefix, '7', { phone: { rules: [{ limit: 2, windowSeconds: 600 }] } }));
      expect(probed).toMatchObject({ allowed: false, refusals: [{ scope: 'phone' }] });
    });
  });

  it('carries the sends and phone_sends of an object made before the one log over, so no number gains a send', async () => {
    const prefix = freshPrefix();
    const stub = prefixGuardFor(env, prefix);
    await runInDurableObject(stub, async (_i: PrefixGuard, state) => {
      const sql = state.storage.sql;
      const now = Date.now();
      // The layout before: the prefix's hour, and the phone's day in a table of its own.
      sql.exec('DROP TABLE sends');
      sql.exec(`CREATE TABLE sends (request_id TEXT PRIMARY KEY, at INTEGER NOT NULL, number_key TEXT NOT NULL, block_key TEXT NOT NULL,
        verified INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID`);
      sql.exec(
        'CREATE TABLE phone_sends (number_key TEXT NOT NULL, at INTEGER NOT NULL, request_id TEXT NOT NULL, PRIMARY KEY (number_key, at, request_id)) WITHOUT ROWID',
      );
      // Number 5: three sends within ten minutes, the oldest already gone from the prefix's log.
      const sends = [
        { id: 'otp_old_a', at: now - 500_000, prefix: false, verified: 0 },
        { id: 'otp_old_b', at: now - 300_000, prefix: true, verified: 1 },
        { id: 'otp_old_c', at: now - 100_000, prefix: true, verified: 0 },
      ];
      for (const send of sends) {
        sql.exec('INSERT INTO phone_sends VALUES (?, ?, ?)', 'number-5', send.at, send.id);
        if (send.prefix) sql.exec('INSERT INTO sends VALUES (?, ?, ?, ?, ?)', send.id, send.at, 'number-5', 'block-5', send.verified);
      }

      const restarted = new PrefixGuard(state, env);
      const refused = await restarted.admit(sendTo(prefix, '5'));
      // The 3-in-10-minutes window frees when the oldest send (500 s ago) leaves it: 100 s from now.
      expect(refused).toMatchObject({ allowed: false, refusals: [{ scope: 'phone' }] });
      if (refused.allowed) return;
      expect(refused.refusals[0]!.retryAfterSeconds).toBeGreaterThan(95);
      expect(refused.refusals[0]!.retryAfterSeconds).toBeLessThanOrEqual(100);
      const tables = sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").toArray();
      expect(tables.map((table) => table.name)).toEqual(['sends', 'verified_numbers']);
      // The prefix counts the two it had; the one verified stays verified.
      expect(await restarted.status()).toMatchObject({ sends: 2, verified: 1 });
      expect((await restarted.admit(sendTo(prefix, '6'))).allowed).toBe(true);
    });
  });

  it('a verification marks the sends of its number so far as converted, not those after it', async () => {
    const prefix = freshPrefix();
    const stub = prefixGuardFor(env, prefix);
    const first = sendTo(prefix, '3');
    await stub.admit(first);
    await stub.admit(sendTo(prefix, '4'));
    await stub.recordVerification(first.requestId, 86_400);
    expect(await stub.status()).toMatchObject({ sends: 2, verified: 1 });
    // As if the verification was a second ago and the first send two: the next send comes after it.
    await runInDurableObject(stub, (instance: PrefixGuard, state) => {
      state.storage.sql.exec('UPDATE verified_numbers SET at = at - 1000');
      state.storage.sql.exec('UPDATE sends SET at = at - 2000');
      reloadSendIndex(instance, state);
    });
    expect((await stub.admit(sendTo(prefix, '3', { phone: undefined }))).allowed).toBe(true);
    expect(await stub.status()).toMatchObject({ sends: 3, verified: 1 });
  });

  it('lifting the prefix starts its signals afresh and keeps the numbers’ own histories', async () => {
    const prefix = freshPrefix();
    const stub = prefixGuardFor(env, prefix);
    const tight = { phone: { rules: [{ limit: 1, windowSeconds: 600 }] } };
    expect((await stub.admit(sendTo(prefix, '1', tight))).allowed).toBe(true);
    expect((await stub.admit(sendTo(prefix, '2', { phone: undefined }))).allowed).toBe(true);
    await stub.lift();
    expect(await stub.status()).toMatchObject({ sends: 0 });
    expect(await stub.admit(sendTo(prefix, '1', tight))).toMatchObject({ allowed: false, refusals: [{ scope: 'phone' }] });
    await runInDurableObject(stub, (_i: PrefixGuard, state) => {
      expect(state.storage.sql.exec('SELECT request_id FROM sends').toArray()).toHaveLength(1);
    });
  });
});
