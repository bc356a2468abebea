/**
 * The production Worker (src/index.ts, unchanged) behind a bench-only entry module. It adds two
 * things and changes nothing the Worker does:
 *
 * 1. With BENCH_METER=1, it counts every billable operation the Worker causes, by wrapping the
 *    bindings it hands to the Worker: D1 statements (rows read and written, from each result's
 *    `meta`), queue sends, deliveries, acks and retries, Durable Object RPC calls (per class and
 *    method, with their round-trip time), the objects' own SQL rows and storage calls, and
 *    outbound `fetch` calls. `GET /__bench/meter` returns the counts.
 * 2. A few `/__bench/*` routes the benchmarks need and the API must not have: seed a backlog of
 *    send jobs directly (the same statements and message the API writes), count request statuses,
 *    and drive one rate-limit object from inside the runtime.
 *
 * Every Durable Object class is subclassed only to meter it; behaviour is the parent's. In the
 * local runtime the Worker and its objects share one isolate, so one module-level meter sees
 * both sides.
 */

import { DEVELOPMENT_APP } from '../../../src/apps/development-app.ts';
import { loadConfig } from '../../../src/config.ts';
import { insertRequestStatements } from '../../../src/db/requests.ts';
import { newRequestId } from '../../../src/ids.ts';
import worker, {
  ClientIpGuard as ClientIpGuardBase,
  PrefixGuard as PrefixGuardBase,
  ProviderHealth as ProviderHealthBase,
  ProviderPacer as ProviderPacerBase,
  RateLimiter as RateLimiterBase,
  ScopeLedger as ScopeLedgerBase,
} from '../../../src/index.ts';
import { StorageUpkeep } from '../../../src/limiter/storage-upkeep.ts';
import { phonePrefix } from '../../../src/phone.ts';
import { sendJob } from '../../../src/queue/messages.ts';

// ---------------------------------------------------------------------------------------------
// The meter

let meter = freshMeter();
let cursors = [];

function freshMeter() {
  return {
    since: Date.now(),
    workerInvocations: { fetch: 0, queue: 0, scheduled: 0 },
    d1: { statements: 0, batches: 0, rowsRead: 0, rowsWritten: 0, sizeAfter: null, byStatement: {} },
    queue: { sent: {}, delivered: {}, acked: {}, retried: {}, invocations: {} },
    durableObjects: { rpc: {}, rpcMs: {}, alarms: {}, constructed: {}, alarmsScheduledBy: {}, byClass: {} },
    subrequests: {},
    analyticsDataPoints: 0,
  };
}

const bump = (record, key, by = 1) => {
  record[key] = (record[key] ?? 0) + by;
};

let metering = false;

function objectCounters(className) {
  meter.durableObjects.byClass[className] ??= { sqlStatements: 0, sqlRowsRead: 0, sqlRowsWritten: 0, storageCalls: {} };
  return meter.durableObjects.byClass[className];
}

/** Rows a cursor read and wrote are known once it has been consumed: counted when the meter is read. */
function settleCursors() {
  for (const { cursor, className } of cursors) {
    try {
      const counters = objectCounters(className);
      counters.sqlRowsRead += cursor.rowsRead;
      counters.sqlRowsWritten += cursor.rowsWritten;
    } catch {
      /* a cursor that cannot report counts nothing */
    }
  }
  cursors = [];
}

// ---------------------------------------------------------------------------------------------
// D1

const RAW = Symbol('raw statement');

function statementLabel(sql) {
  return sql.replace(/\s+/g, ' ').trim().slice(0, 60);
}

function countD1(label, meta) {
  meter.d1.statements += 1;
  meter.d1.rowsRead += meta?.rows_read ?? 0;
  meter.d1.rowsWritten += meta?.rows_written ?? 0;
  if (typeof meta?.size_after === 'number') meter.d1.sizeAfter = meta.size_after;
  meter.d1.byStatement[label] ??= { count: 0, rowsRead: 0, rowsWritten: 0 };
  const entry = meter.d1.byStatement[label];
  entry.count += 1;
  entry.rowsRead += meta?.rows_read ?? 0;
  entry.rowsWritten += meta?.rows_written ?? 0;
}

function meteredStatement(statement, sql) {
  const label = statementLabel(sql);
  return {
    [RAW]: statement,
    label,
    bind: (...values) => meteredStatement(statement.bind(...values), sql),
    // `first()` returns no meta; `all()` runs the same statement and does.
    first: async (column) => {
      const result = await statement.all();
      countD1(label, result.meta);
      const row = result.results[0];
      if (row === undefined) return null;
      return column === undefined ? row : row[column];
    },
    all: async () => {
      const result = await statement.all();
      countD1(label, result.meta);
      return result;
    },
    run: async () => {
      const result = await statement.run();
      countD1(label, result.meta);
      return result;
    },
    raw: async (options) => {
      const result = await statement.all();
      countD1(label, result.meta);
      const rows = result.results.map((row) => Object.values(row));
      return options?.columnNames ? [Object.keys(result.results[0] ?? {}), ...rows] : rows;
    },
  };
}

function meteredD1(db) {
  return {
    prepare: (sql) => meteredStatement(db.prepare(sql), sql),
    batch: async (statements) => {
      meter.d1.batches += 1;
      const results = await db.batch(statements.map((statement) => statement[RAW] ?? statement));
      results.forEach((result, index) => countD1(statements[index]?.label ?? 'unlabelled', result.meta));
      return results;
    },
    exec: (sql) => db.exec(sql),
    withSession: (...args) => db.withSession(...args),
    dump: () => db.dump(),
  };
}

// ---------------------------------------------------------------------------------------------
// Queues

function meteredQueue(queue, name) {
  return {
    send: async (body, options) => {
      bump(meter.queue.sent, name);
      return queue.send(body, options);
    },
    sendBatch: async (messages, options) => {
      bump(meter.queue.sent, name, messages.length);
      return queue.sendBatch(messages, options);
    },
  };
}

function meteredBatch(batch) {
  const name = batch.queue;
  bump(meter.queue.invocations, name);
  bump(meter.queue.delivered, name, batch.messages.length);
  const messages = batch.messages.map((message) => ({
    get id() {
      return message.id;
    },
    get timestamp() {
      return message.timestamp;
    },
    get body() {
      return message.body;
    },
    get attempts() {
      return message.attempts;
    },
    ack: () => {
      bump(meter.queue.acked, name);
      message.ack();
    },
    retry: (options) => {
      bump(meter.queue.retried, name);
      message.retry(options);
    },
  }));
  return {
    queue: batch.queue,
    messages,
    ackAll: () => {
      bump(meter.queue.acked, name, messages.length);
      batch.ackAll();
    },
    retryAll: (options) => {
      bump(meter.queue.retried, name, messages.length);
      batch.retryAll(options);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Durable Objects: caller side (RPC calls and their round trip) ...

function meteredStub(stub, className) {
  return new Proxy(stub, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (typeof property !== 'string' || typeof value !== 'function' || property === 'then') return value;
      return async (...args) => {
        const label = `${className}.${property}`;
        bump(meter.durableObjects.rpc, label);
        const started = Date.now();
        try {
          return await target[property](...args);
        } finally {
          bump(meter.durableObjects.rpcMs, label, Date.now() - started);
        }
      };
    },
  });
}

function meteredNamespace(namespace, className) {
  return new Proxy(namespace, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (property === 'get') return (id, options) => meteredStub(target.get(id, options), className);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

// ... and object side (SQL rows, storage calls, alarms).

const STORAGE_CALLS = new Set(['get', 'put', 'delete', 'list', 'getAlarm', 'setAlarm', 'deleteAlarm', 'deleteAll']);

function meteredSql(sql, className) {
  return new Proxy(sql, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (property === 'exec') {
        return (...args) => {
          const cursor = target.exec(...args);
          if (metering) {
            objectCounters(className).sqlStatements += 1;
            cursors.push({ cursor, className });
          }
          return cursor;
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function meteredState(ctx, className) {
  let alarmCounted = false;
  const storage = new Proxy(ctx.storage, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (property === 'sql') return meteredSql(value, className);
      if (typeof value !== 'function') return value;
      if (STORAGE_CALLS.has(property)) {
        return (...args) => {
          if (metering) {
            bump(objectCounters(className).storageCalls, property);
            // Each object with an alarm set will be woken at least once to clean up.
            if (property === 'setAlarm' && !alarmCounted) {
              alarmCounted = true;
              bump(meter.durableObjects.alarmsScheduledBy, className);
            }
          }
          return value.apply(target, args);
        };
      }
      return value.bind(target);
    },
  });
  return new Proxy(ctx, {
    get(target, property) {
      if (property === 'storage') return storage;
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Environment handed to the Worker and to its objects

const meteredEnvs = new WeakMap();

function meteredAnalytics() {
  return {
    writeDataPoint: () => {
      if (metering) meter.analyticsDataPoints += 1;
    },
  };
}

function meteredEnv(env) {
  if (env.BENCH_METER !== '1') return env;
  metering = true;
  let wrapped = meteredEnvs.get(env);
  if (wrapped) return wrapped;
  const overrides = {
    DB: meteredD1(env.DB),
    SEND_QUEUE: meteredQueue(env.SEND_QUEUE, 'otp-send'),
    DEAD_LETTER_QUEUE: meteredQueue(env.DEAD_LETTER_QUEUE, 'otp-send-dlq'),
    RATE_LIMITER: meteredNamespace(env.RATE_LIMITER, 'RateLimiter'),
    CLIENT_IP_GUARD: meteredNamespace(env.CLIENT_IP_GUARD, 'ClientIpGuard'),
    PREFIX_GUARD: meteredNamespace(env.PREFIX_GUARD, 'PrefixGuard'),
    PROVIDER_PACER: meteredNamespace(env.PROVIDER_PACER, 'ProviderPacer'),
    PROVIDER_HEALTH: meteredNamespace(env.PROVIDER_HEALTH, 'ProviderHealth'),
    SCOPE_LEDGER: meteredNamespace(env.SCOPE_LEDGER, 'ScopeLedger'),
    // Analytics Engine is a production binding (the local runtime has none, and the Worker then
    // counts in memory instead): a stand-in that only counts the data points production would write.
    METRICS: meteredAnalytics(),
  };
  wrapped = new Proxy(env, { get: (target, property) => (property in overrides ? overrides[property] : Reflect.get(target, property)) });
  meteredEnvs.set(env, wrapped);
  return wrapped;
}

const realFetch = globalThis.fetch;
globalThis.fetch = function meteredFetch(input, init) {
  if (metering) {
    let host = 'unknown';
    try {
      host = new URL(typeof input === 'string' || input instanceof URL ? input : input.url).host;
    } catch {
      /* keep unknown */
    }
    bump(meter.subrequests, host);
  }
  return realFetch(input, init);
};

function meteredObjectClass(Base, className, methods) {
  const Metered = class extends Base {
    constructor(ctx, env) {
      // The runtime insists on the real state object, so the parent gets it; its storage handles
      // are swapped for metered ones right after (the schema statements the parent's constructor
      // ran go uncounted, a few reads of the schema per object instantiation).
      super(ctx, env);
      if (env.BENCH_METER !== '1') return;
      bump(meter.durableObjects.constructed, className);
      const metered = meteredState(ctx, className);
      Object.defineProperty(this, 'ctx', { value: metered, configurable: true });
      // The limiters' housekeeping (window length, alarm) holds the storage it was built with.
      if (this.upkeep instanceof StorageUpkeep)
        Object.defineProperty(this, 'upkeep', { value: new StorageUpkeep(metered.storage), configurable: true, writable: true });
      Object.defineProperty(this, 'env', { value: meteredEnv(env), configurable: true });
      if ('sql' in this) Object.defineProperty(this, 'sql', { value: meteredSql(ctx.storage.sql, className), configurable: true, writable: true });
    }
  };
  for (const method of methods) {
    Object.defineProperty(Metered.prototype, method, {
      value: function (...args) {
        if (method === 'alarm' && metering) bump(meter.durableObjects.alarms, className);
        return Base.prototype[method].apply(this, args);
      },
      writable: true,
      configurable: true,
    });
  }
  Object.defineProperty(Metered, 'name', { value: className });
  return Metered;
}

export const RateLimiter = meteredObjectClass(RateLimiterBase, 'RateLimiter', ['consume', 'lease', 'hold', 'settle', 'refund', 'alarm']);
export const ClientIpGuard = meteredObjectClass(ClientIpGuardBase, 'ClientIpGuard', ['consume', 'refund', 'alarm']);
export const PrefixGuard = meteredObjectClass(PrefixGuardBase, 'PrefixGuard', ['admit', 'refund', 'erase', 'recordVerification', 'status', 'lift', 'alarm']);
export const ProviderPacer = meteredObjectClass(ProviderPacerBase, 'ProviderPacer', ['reserve']);
export const ProviderHealth = meteredObjectClass(ProviderHealthBase, 'ProviderHealth', ['view', 'report']);
export const ScopeLedger = meteredObjectClass(ScopeLedgerBase, 'ScopeLedger', ['report', 'list', 'override']);

// ---------------------------------------------------------------------------------------------
// Bench-only routes

function json(body, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

async function benchRoute(request, env, url) {
  if (url.pathname === '/__bench/meter' && request.method === 'GET') {
    settleCursors();
    return json(meter);
  }
  if (url.pathname === '/__bench/meter/reset' && request.method === 'POST') {
    settleCursors();
    meter = freshMeter();
    return json({ ok: true });
  }
  if (url.pathname === '/__bench/seed' && request.method === 'POST') return seed(request, env);
  if (url.pathname === '/__bench/statuses' && request.method === 'GET') {
    const since = Number(url.searchParams.get('since') ?? 0);
    const { results } = await env.DB.prepare('SELECT status, COUNT(*) AS n FROM otp_requests WHERE created_at >= ? GROUP BY status').bind(since).all();
    return json(Object.fromEntries(results.map((row) => [row.status, row.n])));
  }
  if (url.pathname === '/__bench/limiter' && request.method === 'POST') return driveLimiter(request, env);
  return json({ error: 'not_found' }, 404);
}

/**
 * Writes `count` queued requests and their send jobs the way `POST /v1/otp` does (the same
 * insert statements, the same message), without the admission step: the dispatch benchmark needs
 * a backlog faster than the local API can admit one. They are the development app's requests,
 * as the scripts' calls are, with the deployment's code length (that app sets none).
 */
async function seed(request, env) {
  const { phones, ttlSeconds = 300 } = await request.json();
  if (!Array.isArray(phones) || phones.length === 0 || phones.length > 100) return json({ error: 'phones: 1 to 100 numbers' }, 400);
  const now = Date.now();
  const codeLength = loadConfig(env).otp.length;
  const rows = phones.map((phoneNumber) => ({
    id: newRequestId(),
    appId: DEVELOPMENT_APP.id,
    codeLength,
    phoneNumber,
    phonePrefix: phonePrefix(phoneNumber),
    createdAt: now,
    expiresAt: now + ttlSeconds * 1000,
  }));
  await env.DB.batch(rows.flatMap((row) => insertRequestStatements(env.DB, row)));
  await env.SEND_QUEUE.sendBatch(rows.map((row) => ({ body: sendJob(row.id) })));
  return json({ requestIds: rows.map((row) => row.id), enqueuedAt: Date.now() });
}

/**
 * Calls `consume` on rate-limit objects from inside the runtime, `calls` times with `concurrency`
 * in flight, spread round-robin over `keys` distinct objects, and reports each decision's round
 * trip. Driving it from here keeps HTTP and the dev proxy out of the measurement.
 */
async function driveLimiter(request, env) {
  const { keyPrefix, keys, calls, concurrency, rules, cooldown, warm } = await request.json();
  const stubs = Array.from({ length: keys }, (_, index) => env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`${keyPrefix}:${index}`)));
  // Objects come into existence on their first call; `warm` keeps that out of the timed part.
  if (warm) await Promise.all(stubs.map((stub) => stub.consume({ rules, cooldown })));
  const latencies = new Array(calls);
  let allowed = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, calls) }, async () => {
      while (next < calls) {
        const index = next++;
        const begin = performance.now();
        const decision = await stubs[index % keys].consume({ rules, cooldown });
        latencies[index] = performance.now() - begin;
        if (decision.allowed) allowed += 1;
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  return json({ calls, allowed, elapsedMs, latencies });
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname.startsWith('/__bench/')) return benchRoute(request, env, url);
    if (env.BENCH_METER === '1') bump(meter.workerInvocations, 'fetch');
    return worker.fetch(request, meteredEnv(env), ctx);
  },
  async queue(batch, env, ctx) {
    if (env.BENCH_METER !== '1') return worker.queue(batch, env, ctx);
    bump(meter.workerInvocations, 'queue');
    return worker.queue(meteredBatch(batch), meteredEnv(env), ctx);
  },
  async scheduled(controller, env, ctx) {
    if (env.BENCH_METER === '1') bump(meter.workerInvocations, 'scheduled');
    return worker.scheduled(controller, meteredEnv(env), ctx);
  },
};
