import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { prefixGuardFor } from '../src/limiter/limiter-client';
import { phonePrefix } from '../src/phone';
import { makeApp, withKey } from './support/apps';
import { recordingQueue } from './support/faults';
import { uniquePhone } from './support/fixtures';
import { storedSendsOfIp } from './support/ip-sends';
import { storedPhoneSends } from './support/phone-sends';
import { queryPlan, recordingDb } from './support/query-plans';
import { fetchWithEnv } from './support/worker';

/**
 * `POST /v1/otp`'s D1 round trips: none for a send a limiter refuses, one batch for an admitted
 * one (D1's blocks and locks are the insert's condition), and one read more when they held it
 * back. The binding is wrapped only to count calls: every statement runs on the real database.
 */

/** Sends are limited here only where a test says so, so one phone can be asked for twice in a row. */
const ROOMY = { PHONE_LIMITS: '100/86400', PHONE_COOLDOWN_SECONDS: '0' };

/** The real D1 binding, recording each round trip: a batch (with its statements' SQL) or one statement run. */
function countingDb(db: D1Database) {
  const calls: Array<{ kind: 'batch' | 'statement'; sql: string[] }> = [];
  const watch = (statement: D1PreparedStatement, sql: string): D1PreparedStatement => {
    for (const method of ['first', 'all', 'run', 'raw'] as const) {
      const original = (statement[method] as (...args: unknown[]) => Promise<unknown>).bind(statement);
      Object.assign(statement, {
        [method]: (...args: unknown[]) => {
          calls.push({ kind: 'statement', sql: [sql] });
          return original(...args);
        },
      });
    }
    const bind = statement.bind.bind(statement);
    return Object.assign(statement, { bind: (...values: unknown[]) => watch(bind(...values), sql) });
  };
  const wrapped = new Proxy(db, {
    get(target, property) {
      if (property === 'prepare') return (sql: string) => watch(target.prepare(sql), sql);
      if (property === 'batch') {
        return (statements: D1PreparedStatement[]) => {
          calls.push({ kind: 'batch', sql: statements.map((statement) => (statement as unknown as { statement: string }).statement) });
          return target.batch(statements);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as D1Database;
  // The API key's lookup and last-use mark happen at most once per isolate and 30 s: not the send's.
  return { db: wrapped, sendCalls: () => calls.filter((call) => !call.sql.some((sql) => /api_keys/.test(sql))) };
}

let ipCounter = 0;
const uniqueIp = () => `203.0.113.${++ipCounter}`;

function sendEnv(vars: Record<string, string> = ROOMY) {
  const counting = countingDb(env.DB);
  const queue = recordingQueue();
  return { ...counting, queue, testEnv: { ...env, ...vars, DB: counting.db, SEND_QUEUE: queue.queue } as Env };
}

function send(testEnv: Env, phoneNumber: string, options: { ip?: string; key?: string; headers?: Record<string, string> } = {}) {
  return fetchWithEnv(
    new Request('https://otp.test/v1/otp', {
      method: 'POST',
      headers: withKey({ 'Content-Type': 'application/json', 'CF-Connecting-IP': options.ip ?? uniqueIp(), ...options.headers }, options.key),
      body: JSON.stringify({ phoneNumber }),
    }),
    testEnv,
  );
}

const HOUR = 3_600_000;
const blockPrefix = (prefix: string, until = Date.now() + HOUR) =>
  env.DB.prepare(`INSERT INTO prefix_blocks (prefix, reason, note, blocked_at, until) VALUES (?1, 'operator', NULL, ?2, ?3)`)
    .bind(prefix, Date.now(), until)
    .run();
const lockPhone = (phoneNumber: string, until = Date.now() + HOUR) =>
  env.DB.prepare('INSERT INTO phone_locks (phone_number, failures, locked_at, locked_until) VALUES (?1, 10, ?2, ?3)')
    .bind(phoneNumber, Date.now(), until)
    .run();
const requestsOf = async (phoneNumber: string) =>
  (
    await env.DB.prepare('SELECT id, status FROM otp_requests WHERE phone_number = ?1 ORDER BY created_at')
      .bind(phoneNumber)
      .all<{ id: string; status: string }>()
  ).results;
const errorOf = async (response: Response) => (await response.json<{ error: { code: string; message: string } }>()).error;

describe('POST /v1/otp and D1', () => {
  it('an admitted send makes exactly one D1 round trip, the batch that writes it, and enqueues one job', async () => {
    const { sendCalls, queue, testEnv } = sendEnv();
    const response = await send(testEnv, uniquePhone());
    expect(response.status).toBe(202);
    const calls = sendCalls();
    expect(calls.map((call) => call.kind)).toEqual(['batch']);
    expect(calls[0]!.sql.some((sql) => /INSERT INTO otp_requests/.test(sql))).toBe(true);
    expect(queue.sent).toHaveLength(1);
  });

  it('with an Idempotency-Key, the claim and the one batch', async () => {
    const { sendCalls, testEnv } = sendEnv();
    expect((await send(testEnv, uniquePhone(), { headers: { 'Idempotency-Key': crypto.randomUUID() } })).status).toBe(202);
    const calls = sendCalls();
    expect(calls.map((call) => call.kind)).toEqual(['statement', 'batch']);
    expect(calls[0]!.sql[0]).toMatch(/INSERT INTO idempotency_keys/);
  });

  it('a send a limiter refuses makes no D1 call at all', async () => {
    const { sendCalls, queue, testEnv } = sendEnv({});
    const phone = uniquePhone();
    expect((await send(testEnv, phone)).status).toBe(202);
    const before = sendCalls().length;
    const refused = await send(testEnv, phone);
    expect(refused.status).toBe(429);
    expect((await errorOf(refused)).code).toBe('phone_rate_limited');
    expect(sendCalls().slice(before)).toEqual([]);
    expect(queue.sent).toHaveLength(1);
  });

  it.each([
    ['an operator block of the number’s range', 'prefix_blocked', (phone: string) => blockPrefix(phone.slice(0, 8))],
    ['a block of the one number', 'prefix_blocked', (phone: string) => blockPrefix(phone)],
    ['a lock on the phone', 'phone_locked', (phone: string) => lockPhone(phone)],
  ])(
    '%s: refused with its code and the hold’s end as Retry-After; nothing written, superseded or enqueued; the limiters refunded',
    async (_name, code, hold) => {
      const { sendCalls, queue, testEnv } = sendEnv();
      const phone = uniquePhone();
      expect((await send(testEnv, phone)).status).toBe(202);
      const earlier = await requestsOf(phone);
      await hold(phone);
      const ip = uniqueIp();
      const before = sendCalls().length;

      const refused = await send(testEnv, phone, { ip });
      expect(refused.status).toBe(429);
      expect((await errorOf(refused)).code).toBe(code);
      const retryAfter = Number(refused.headers.get('Retry-After'));
      expect(retryAfter).toBeGreaterThan(3500);
      expect(retryAfter).toBeLessThanOrEqual(3600);
      expect(refused.headers.get('RateLimit')).toBe(`"otp";r=0;t=${retryAfter}`);
      // The conditional insert, then one read of why: two round trips, on this rare path only.
      const calls = sendCalls().slice(before);
      expect(calls.map((call) => call.kind)).toEqual(['batch', 'batch']);
      expect(calls[1]!.sql.join('\n')).toMatch(/FROM prefix_blocks[\s\S]*FROM phone_locks/);

      // The earlier request is still the phone's live one: nothing was inserted or superseded.
      expect(await requestsOf(phone)).toEqual(earlier);
      expect(earlier.map((request) => request.status)).toEqual(['queued']);
      expect(queue.sent).toHaveLength(1);
      expect(await storedPhoneSends(phone)).toBe(1);
      expect(await storedSendsOfIp(ip)).toBe(0);
      expect((await prefixGuardFor(env, phonePrefix(phone)).status()).sends).toBe(1);
    },
  );

  it('a number both blocked and locked is named blocked, with the later end of the two', async () => {
    const { testEnv } = sendEnv();
    const phone = uniquePhone();
    await blockPrefix(phone, Date.now() + HOUR);
    await lockPhone(phone, Date.now() + 2 * HOUR);
    const refused = await send(testEnv, phone);
    expect((await errorOf(refused)).code).toBe('prefix_blocked');
    expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThan(7100);
  });

  it('an ended block or lock holds nothing back', async () => {
    const { sendCalls, testEnv } = sendEnv();
    const phone = uniquePhone();
    await blockPrefix(phone, Date.now() - 1);
    await lockPhone(phone, Date.now() - 1);
    expect((await send(testEnv, phone)).status).toBe(202);
    expect(sendCalls().map((call) => call.kind)).toEqual(['batch']);
  });

  it('a refused send gives its Idempotency-Key up: once the block is lifted, the same key creates the request', async () => {
    const { testEnv } = sendEnv();
    const phone = uniquePhone();
    await blockPrefix(phone);
    const key = crypto.randomUUID();
    const refused = await send(testEnv, phone, { headers: { 'Idempotency-Key': key } });
    expect(refused.status).toBe(429);
    expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM idempotency_keys WHERE key = ?1').bind(key).first('n')).toBe(0);

    await env.DB.prepare('UPDATE prefix_blocks SET lifted_at = ?1 WHERE prefix = ?2').bind(Date.now(), phone).run();
    const created = await send(testEnv, phone, { headers: { 'Idempotency-Key': key } });
    expect(created.status).toBe(202);
    const { requestId } = await created.json<{ requestId: string }>();
    expect(await requestsOf(phone)).toEqual([{ id: requestId, status: 'queued' }]);
    expect(await env.DB.prepare('SELECT pending_until FROM idempotency_keys WHERE key = ?1').bind(key).first('pending_until')).toBeNull();
  });

  it('a lock lifted between the insert and the read: 503 with Retry-After 1, the limiters refunded, and the retry admitted', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const phone = uniquePhone();
    await lockPhone(phone);
    const ip = uniqueIp();
    let batches = 0;
    // An operator lifts the lock right after the insert was held back by it.
    const db = new Proxy(env.DB, {
      get(target, property) {
        if (property === 'batch') {
          return async (statements: D1PreparedStatement[]) => {
            const results = await target.batch(statements);
            if (++batches === 1) await env.DB.prepare('DELETE FROM phone_locks WHERE phone_number = ?1').bind(phone).run();
            return results;
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as D1Database;
    const response = await send({ ...env, ...ROOMY, DB: db } as Env, phone, { ip });
    warn.mockRestore();
    expect(response.status).toBe(503);
    expect(response.headers.get('Retry-After')).toBe('1');
    expect((await errorOf(response)).code).toBe('service_unavailable');
    expect(await requestsOf(phone)).toEqual([]);
    expect(await storedPhoneSends(phone)).toBe(0);
    expect(await storedSendsOfIp(ip)).toBe(0);
    expect((await send(sendEnv().testEnv, phone, { ip })).status).toBe(202);
  });

  it('an app’s test number in a blocked range is served as before: blocks and locks are not asked', async () => {
    const testNumber = '+15005550009';
    const app = await makeApp({ testNumbers: [{ phoneNumber: testNumber, code: '2468' }] });
    await blockPrefix('+1500555');
    await lockPhone(testNumber);
    const { sendCalls, queue, testEnv } = sendEnv();
    const response = await send(testEnv, testNumber, { key: app.secretKey });
    expect(response.status).toBe(202);
    expect(sendCalls().map((call) => call.kind)).toEqual(['batch']);
    expect(queue.sent).toHaveLength(0);
    expect((await requestsOf(testNumber)).map((request) => request.status)).toEqual(['sent']);
  });

  it('the conditional insert reads blocks and locks by their keys, never by scanning a table', async () => {
    const { db, statements } = recordingDb();
    const phone = uniquePhone();
    expect((await send({ ...env, ...ROOMY, DB: db } as Env, phone)).status).toBe(202);
    const written = statements.filter(({ sql }) => /INSERT INTO otp_requests|SET status = 'superseded'/.test(sql));
    expect(written).toHaveLength(2);
    for (const { sql, args } of written) {
      const plan = await queryPlan(sql, args);
      expect(
        plan.filter((detail) => /^SCAN (prefix_blocks|phone_locks|otp_requests)\b/.test(detail)),
        sql,
      ).toEqual([]);
      expect(plan.join('\n'), sql).toMatch(/prefix_blocks USING (INDEX sqlite_autoindex_prefix_blocks_1|PRIMARY KEY)/);
    }
  });
});
