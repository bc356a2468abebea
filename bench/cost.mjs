#!/usr/bin/env node
/**
 * Cost per OTP: `npm run bench:cost`.
 *
 * Counts the billable operations one successful OTP causes, and one rejected request, by running
 * them through the production Worker behind a metering entry module (bench/workers/instrumented,
 * BENCH_METER=1) against the StartMessaging stand-in, and reading the counts back:
 * Worker invocations, Durable Object requests (RPC calls) and their round-trip time, the objects'
 * SQLite rows read and written and storage calls, D1 statements with rows read and written (from
 * each result's meta), queue messages written, delivered, acked and retried, and outbound fetches.
 * Worker CPU is read from the runtime process (/proc), an upper bound: locally that process also
 * runs D1, the queue and every object.
 *
 * Phases, each over N fresh numbers and client addresses (after a warm-up, so shared objects such
 * as the pacer, the budget shards and every client address shard exist, as in production):
 *   1. request and delivery: POST /v1/otp, the queue consumer sends the SMS;
 *   2. verification: POST /v1/otp/:id/verify with the code the stand-in received;
 *   2b. delivery report: the delayed status check each accepted SMS gets, handled after the code
 *      was verified (as a user who verifies within DELIVERY_CHECK_BASE_SECONDS does);
 *   3. status polls: GET /v1/otp/:id (an app may poll; priced per poll);
 *   4. rejected, per-phone limit: the same numbers again within the minute (429);
 *   5. rejected, blocked prefix: numbers in a prefix an operator blocked (429), as pumping traffic
 *      after a block is;
 *   6. the API key check: the same malformed body without a key (401) and with a valid one (400
 *      once the key is checked): the difference is what checking a key costs a request.
 * Then prices them per million OTPs at Cloudflare's published Workers Paid rates and sets that
 * beside the SMS price (Rs 0.25 per OTP SMS).
 *
 * Options: --otps 100 --usd-inr 88 --json <file>
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { DEV_APP_AUTH } from '../scripts/lib/local-dev-secrets.mjs';
import { startStandIn } from '../scripts/startmessaging-stand-in.mjs';
import {
  cpuByRole,
  cpuDelta,
  createRun,
  deriveConfig,
  fmt,
  mapLimit,
  migrate,
  parseArgs,
  request,
  sleep,
  snapshotProject,
  startDev,
  stateDir,
} from './lib/harness.mjs';

const options = parseArgs(process.argv.slice(2), { otps: 100, usdInr: 88, json: '' });
const N = options.otps;
const ADMIN_TOKEN = 'bench-admin-token';

/**
 * Workers Paid list prices in USD, marginal (beyond the monthly inclusions), as published on
 * developers.cloudflare.com. Read from those pages' text on PRICES_CHECKED; check them before
 * relying on them.
 */
const PRICES_SOURCE = 'developers.cloudflare.com: Workers Pricing, Durable Objects Pricing, D1 Pricing, Queues Pricing, Workers Analytics Engine Pricing';
const PRICES_CHECKED = '2026-12-03';
export const PRICES = {
  workerRequestsPerMillion: 0.3,
  workerCpuMsPerMillion: 0.02,
  doRequestsPerMillion: 0.15,
  doGbSecondsPerMillion: 12.5,
  doMemoryGb: 0.128,
  doRowsReadPerMillion: 0.001,
  doRowsWrittenPerMillion: 1.0,
  d1RowsReadPerMillion: 0.001,
  d1RowsWrittenPerMillion: 1.0,
  queueOperationsPerMillion: 0.4,
  analyticsDataPointsPerMillion: 0.25,
  smsInr: 0.25,
};

const sum = (record) => Object.values(record ?? {}).reduce((total, value) => total + value, 0);

function diff(after, before) {
  if (typeof after === 'number') return before === null ? null : after - (before ?? 0);
  if (after === null || typeof after !== 'object') return after;
  const out = {};
  for (const key of Object.keys(after)) out[key] = diff(after[key], before?.[key]);
  return out;
}

/** The key-value and alarm calls of a SQLite-backed object that write: one row written each. */
const KV_WRITES = ['put', 'delete', 'setAlarm', 'deleteAlarm', 'deleteAll'];

/** One phase's counts, per OTP (or per request), from a meter delta. */
function perUnit(delta, cpuMs, units, classes) {
  const objects = Object.entries(delta.durableObjects.byClass).filter(([name]) => !classes || classes.includes(name));
  const rpc = Object.entries(delta.durableObjects.rpc).filter(([label]) => !classes || classes.includes(label.split('.')[0]));
  const rpcMs = Object.entries(delta.durableObjects.rpcMs).filter(([label]) => !classes || classes.includes(label.split('.')[0]));
  const storage = (names) => objects.reduce((total, [, counters]) => total + names.reduce((inner, name) => inner + (counters.storageCalls[name] ?? 0), 0), 0);
  return {
    workerInvocations: sum(delta.workerInvocations) / units,
    doRequests: rpc.reduce((total, [, count]) => total + count, 0) / units,
    doRequestsByMethod: Object.fromEntries(rpc.map(([label, count]) => [label, count / units])),
    doRpcMs: rpcMs.reduce((total, [, ms]) => total + ms, 0) / units,
    doSqlRowsRead: objects.reduce((total, [, counters]) => total + counters.sqlRowsRead, 0) / units,
    doSqlRowsWritten: objects.reduce((total, [, counters]) => total + counters.sqlRowsWritten, 0) / units,
    doSqlStatements: objects.reduce((total, [, counters]) => total + counters.sqlStatements, 0) / units,
    // The key-value and alarm calls of SQLite-backed objects, one row each (see the doc).
    doKvReads: storage(['get', 'getAlarm', 'list']) / units,
    doKvWrites: storage(KV_WRITES) / units,
    // Rows written (SQL and key-value/alarm calls) by object class: which scope a row pays for.
    doRowsWrittenByClass: Object.fromEntries(
      objects.map(([name, counters]) => [name, (counters.sqlRowsWritten + KV_WRITES.reduce((n, call) => n + (counters.storageCalls[call] ?? 0), 0)) / units]),
    ),
    alarmsScheduled:
      Object.entries(delta.durableObjects.alarmsScheduledBy)
        .filter(([name]) => !classes || classes.includes(name))
        .reduce((t, [, c]) => t + c, 0) / units,
    d1Statements: delta.d1.statements / units,
    d1RowsRead: delta.d1.rowsRead / units,
    d1RowsWritten: delta.d1.rowsWritten / units,
    queueWrites: sum(delta.queue.sent) / units,
    queueReads: sum(delta.queue.delivered) / units,
    queueDeletes: sum(delta.queue.acked) / units,
    queueRetries: sum(delta.queue.retried) / units,
    subrequests: sum(delta.subrequests) / units,
    analyticsDataPoints: (delta.analyticsDataPoints ?? 0) / units,
    runtimeCpuMs: cpuMs / units,
  };
}

function price(counts) {
  const doRows = { read: counts.doSqlRowsRead + counts.doKvReads, written: counts.doSqlRowsWritten + counts.doKvWrites };
  const queueOps = counts.queueWrites + counts.queueReads + counts.queueDeletes;
  // Per million units: count per unit x price per million.
  const lines = {
    'Worker requests': counts.workerInvocations * PRICES.workerRequestsPerMillion,
    'Worker CPU (upper bound)': counts.runtimeCpuMs * PRICES.workerCpuMsPerMillion,
    'Durable Object requests': (counts.doRequests + counts.alarmsScheduled) * PRICES.doRequestsPerMillion,
    'Durable Object duration': (counts.doRpcMs / 1000) * PRICES.doMemoryGb * PRICES.doGbSecondsPerMillion,
    'Durable Object rows read': doRows.read * PRICES.doRowsReadPerMillion,
    'Durable Object rows written': doRows.written * PRICES.doRowsWrittenPerMillion,
    'D1 rows read': counts.d1RowsRead * PRICES.d1RowsReadPerMillion,
    'D1 rows written': counts.d1RowsWritten * PRICES.d1RowsWrittenPerMillion,
    'Queue operations': queueOps * PRICES.queueOperationsPerMillion,
    'Analytics Engine data points': (counts.analyticsDataPoints ?? 0) * PRICES.analyticsDataPointsPerMillion,
  };
  return { lines, total: Object.values(lines).reduce((a, b) => a + b, 0) };
}

/**
 * Request i's phone: Indian mobile numbers in ten prefixes, so that prefix objects are shared as
 * in production (a real audience concentrates in a few hundred prefixes; a new object per OTP
 * would overstate their cost), with a thousand-block unique to i so no pumping signal fires.
 */
const PREFIXES = ['+91600', '+91700', '+91720', '+91740', '+91840', '+91850', '+91900', '+91930', '+91960', '+91980'];
const phoneFor = (i) =>
  `${PREFIXES[i % PREFIXES.length]}${String(Math.floor(i / PREFIXES.length)).padStart(4, '0')}${String((i * 7919) % 1000).padStart(3, '0')}`;
const ipFor = (i) => `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`;

/** The ClientIpGuard shard an address's windows live in, as src/limiter/client-ip-shards.ts picks it. */
const CLIENT_IP_SHARDS = 256;
const ipShardOf = (ip) => Number.parseInt(createHash('sha256').update(`ip:${ip}`).digest('hex').slice(0, 8), 16) % CLIENT_IP_SHARDS;

/**
 * One address per ClientIpGuard shard, outside the measured phases' range: a warm-up from these
 * leaves every shard existing (its stored retention and prune alarm set), as production traffic
 * keeps all of them, so a measured send pays its row, not a shard's first write.
 */
function addressPerShard() {
  const byShard = new Map();
  for (let i = 0; byShard.size < CLIENT_IP_SHARDS; i += 1) {
    const ip = `203.${i >> 16}.${(i >> 8) & 255}.${i & 255}`;
    const shard = ipShardOf(ip);
    if (!byShard.has(shard)) byShard.set(shard, ip);
  }
  return [...byShard.values()];
}

/**
 * The D1 statements `POST /v1/otp` runs, by their label (the SQL's first 60 characters): the
 * request's own rows, and its API key's lookup (whose label ends before its table's name) and
 * last-use mark, each at most once per key, isolate and 30 s or a minute. The rest is delivery's.
 */
const REQUEST_SIDE_STATEMENTS = /INSERT INTO otp_requests|superseded|enqueued_at|idempotency|api_keys|^SELECT k\.id, k\.app_id/;

const run = createRun('cost', { overallTimeoutMs: 20 * 60_000 });

await run.main(async () => {
  const started = Date.now();
  const project = snapshotProject(run);
  const standIn = await startStandIn({ port: 0, host: '127.0.0.1', latencyMs: 20 });
  run.closers.push(() => standIn.close());
  const config = deriveConfig(project, { file: 'wrangler.bench-cost.toml', main: 'bench/workers/instrumented/index.js' });
  const persistTo = stateDir(run);
  await migrate(run, project, persistTo, config);
  const dev = await startDev(run, {
    cwd: project,
    config,
    persistTo,
    label: 'cost',
    vars: {
      BENCH_METER: '1',
      PROVIDER_MODE: 'startmessaging',
      PROVIDER_ORDER: 'startmessaging',
      SM_BASE_URL: standIn.url,
      SM_API_KEY: 'bench-key',
      OTP_SECRET: 'bench-otp-secret-not-for-production',
      SESSION_SECRET: 'bench-session-secret-not-for-production',
      ADMIN_TOKEN,
    },
  });
  const base = dev.base;
  let next = 0;

  const meterNow = async () => (await request('GET', `${base}/__bench/meter`)).json;
  async function measure(label, units, fn, settleMs = 1500) {
    await sleep(settleMs);
    const before = await meterNow();
    const cpuBefore = cpuByRole(dev);
    const started = Date.now();
    await fn();
    await sleep(settleMs);
    const after = await meterNow();
    const cpu = cpuDelta(cpuBefore, cpuByRole(dev));
    return { label, units, delta: diff(after, before), cpuMs: cpu.runtime, ms: Date.now() - started };
  }

  const keyOf = (requestId) => `otpd-${requestId}`;
  const smsArrived = (ids) => {
    const sent = new Set(
      standIn
        .calls()
        .filter((call) => call.newSms)
        .map((call) => call.idempotencyKey),
    );
    return ids.every((id) => sent.has(keyOf(id)));
  };
  async function requestCodes(count, { phones, ips, concurrency = 4, expect = 202 } = {}) {
    const indices = Array.from({ length: count }, () => next++);
    const answers = await mapLimit(indices, concurrency, async (i, position) => {
      const answer = await request('POST', `${base}/v1/otp`, {
        body: { phoneNumber: phones?.[position] ?? phoneFor(i) },
        headers: { ...DEV_APP_AUTH, 'CF-Connecting-IP': ips?.[position] ?? ipFor(i) },
      });
      return { phone: phones?.[position] ?? phoneFor(i), status: answer.status, requestId: answer.json?.requestId };
    });
    const wrong = answers.filter((answer) => answer.status !== expect);
    if (wrong.length) throw new Error(`expected ${expect} for every request, got ${wrong.map((answer) => answer.status).join(',')}`);
    return answers;
  }
  async function waitForSms(ids) {
    for (let i = 0; i < 600 && !smsArrived(ids); i += 1) await sleep(100);
    if (!smsArrived(ids)) throw new Error('not every SMS arrived within 60 s');
  }
  async function verifyAll(ids) {
    const codes = new Map(
      standIn
        .calls()
        .filter((call) => call.newSms)
        .map((call) => [call.idempotencyKey, call.otp]),
    );
    await mapLimit(ids, 4, async (id) => {
      const answer = await request('POST', `${base}/v1/otp/${id}/verify`, { body: { code: codes.get(keyOf(id)) }, headers: DEV_APP_AUTH });
      if (answer.status !== 200) throw new Error(`verify: ${answer.status} ${answer.text.slice(0, 200)}`);
    });
  }

  // Every message written so far has been acked: send jobs, delivery-report checks and their
  // follow-ups, however often the pacer sent one back (a retry is not the end of a message).
  async function waitForQueueIdle(what) {
    for (let i = 0; i < 1200; i += 1) {
      const { queue } = await meterNow();
      if (sum(queue.acked) >= sum(queue.sent)) return;
      await sleep(100);
    }
    throw new Error(`${what}: not every queue message was acked within 120 s`);
  }

  // Warm-up: shared objects (pacer, budget shards, every client address shard) come to exist, as
  // they would in production. Its delivery-report checks (one per SMS, DELIVERY_CHECK_BASE_SECONDS
  // after it) are waited for, so none of them lands in a measured phase.
  const warmAddresses = addressPerShard();
  const warm = await requestCodes(warmAddresses.length, { ips: warmAddresses });
  await waitForSms(warm.map((answer) => answer.requestId));
  await verifyAll(warm.map((answer) => answer.requestId));
  await waitForQueueIdle('warm-up');

  // What the runtime burns with no traffic (timers, the dev server's own upkeep), per ms: taken off
  // the delivery-report phase, which is mostly waiting for the checks' delay.
  const idleCpuBefore = cpuByRole(dev);
  const idleStarted = Date.now();
  await sleep(5000);
  const idleCpuPerMs = cpuDelta(idleCpuBefore, cpuByRole(dev)).runtime / (Date.now() - idleStarted);

  let created = [];
  const phases = [];
  phases.push(
    await measure('request and delivery', N, async () => {
      created = await requestCodes(N);
      await waitForSms(created.map((answer) => answer.requestId));
    }),
  );
  phases.push(await measure('verification', N, () => verifyAll(created.map((answer) => answer.requestId))));
  // Each SMS the provider accepted with an id gets a delivery-report check, a queue message delayed
  // DELIVERY_CHECK_BASE_SECONDS (30 s by default); the user has verified by then, as here. It is part
  // of the OTP's cost: this phase lasts until every one of them has been handled.
  const reportPhase = await measure('delivery report', N, () => waitForQueueIdle('delivery reports'));
  reportPhase.idleCpuMs = idleCpuPerMs * reportPhase.ms;
  reportPhase.cpuMs = Math.max(0, reportPhase.cpuMs - reportPhase.idleCpuMs);
  phases.push(reportPhase);
  phases.push(
    await measure('status poll', N, async () => {
      await mapLimit(created, 4, async ({ requestId }) => {
        const answer = await request('GET', `${base}/v1/otp/${requestId}`, { headers: DEV_APP_AUTH });
        if (answer.status !== 200) throw new Error(`status: ${answer.status}`);
      });
    }),
  );
  phases.push(await measure('rejected: per-phone limit', N, () => requestCodes(N, { phones: created.map((answer) => answer.phone), expect: 429 })));
  const blockedPrefix = '+88216';
  const blocked = await request('POST', `${base}/v1/admin/prefix-blocks`, {
    body: { prefix: blockedPrefix, durationSeconds: 3600 },
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  if (blocked.status !== 201) throw new Error(`block: ${blocked.status} ${blocked.text.slice(0, 200)}`);
  phases.push(
    await measure('rejected: blocked prefix', N, () =>
      requestCodes(N, { phones: Array.from({ length: N }, (_, i) => `${blockedPrefix}${String(10_000_000 + i * 1013).slice(-8)}`), expect: 429 }),
    ),
  );

  // What checking an API key adds to a request: the same malformed body (400 after the key check,
  // before anything else runs) with the development app's key and without any key (401 at once).
  const keyCheckCalls = (headers, expect) =>
    mapLimit(
      Array.from({ length: N }, (_, i) => i),
      4,
      async (i) => {
        const answer = await request('POST', `${base}/v1/otp`, { body: {}, headers: { ...headers, 'CF-Connecting-IP': ipFor(next + i) } });
        if (answer.status !== expect) throw new Error(`key check: expected ${expect}, got ${answer.status}`);
      },
    );
  phases.push(await measure('key check: no key (401)', N, () => keyCheckCalls({}, 401)));
  phases.push(await measure('key check: valid key, then a malformed body (400)', N, () => keyCheckCalls(DEV_APP_AUTH, 400)));

  // Request and delivery split by where each operation happens.
  const [delivery, verification, report, poll, rejectedPhone, rejectedPrefix, withoutKey, withKey] = phases;
  const whole = perUnit(delivery.delta, delivery.cpuMs, N);
  const requestSide = perUnit(delivery.delta, NaN, N, ['RateLimiter', 'PrefixGuard', 'ClientIpGuard']);
  const consumerSide = perUnit(delivery.delta, NaN, N, ['ProviderPacer']);
  const split = {
    request: {
      workerInvocations: delivery.delta.workerInvocations.fetch / N,
      // On the request path (what a send waits for) apart from budget leases, which are amortized
      // over the units they hold and mostly taken in the background: reported on their own.
      doRequests: requestSide.doRequests - (requestSide.doRequestsByMethod['RateLimiter.lease'] ?? 0),
      leaseCalls: requestSide.doRequestsByMethod['RateLimiter.lease'] ?? 0,
      d1: statementsWhere(delivery.delta, (label) => REQUEST_SIDE_STATEMENTS.test(label), N),
      queueWrites: whole.queueWrites,
    },
    delivery: {
      workerInvocations: delivery.delta.workerInvocations.queue / N,
      doRequests: consumerSide.doRequests,
      d1: statementsWhere(delivery.delta, (label) => !REQUEST_SIDE_STATEMENTS.test(label), N),
      queueReads: whole.queueReads,
      queueDeletes: whole.queueDeletes,
      subrequests: whole.subrequests,
    },
  };

  const successful = {};
  const parts = [whole, perUnit(verification.delta, verification.cpuMs, N), perUnit(report.delta, report.cpuMs, N)];
  for (const key of Object.keys(whole)) {
    if (typeof whole[key] === 'number') successful[key] = parts.reduce((total, part) => total + (part[key] ?? 0), 0);
  }
  successful.doRequestsByMethod = {};
  successful.doRowsWrittenByClass = {};
  for (const part of parts) {
    for (const [label, count] of Object.entries(part.doRequestsByMethod))
      successful.doRequestsByMethod[label] = (successful.doRequestsByMethod[label] ?? 0) + count;
    for (const [name, rows] of Object.entries(part.doRowsWrittenByClass))
      successful.doRowsWrittenByClass[name] = (successful.doRowsWrittenByClass[name] ?? 0) + rows;
  }
  const rejected = {
    perPhone: perUnit(rejectedPhone.delta, rejectedPhone.cpuMs, N),
    blockedPrefix: perUnit(rejectedPrefix.delta, rejectedPrefix.cpuMs, N),
  };
  const pollCounts = perUnit(poll.delta, poll.cpuMs, N);
  const keyCheck = { withoutKey: perUnit(withoutKey.delta, withoutKey.cpuMs, N), withKey: perUnit(withKey.delta, withKey.cpuMs, N) };
  keyCheck.added = {
    d1Statements: keyCheck.withKey.d1Statements - keyCheck.withoutKey.d1Statements,
    d1RowsRead: keyCheck.withKey.d1RowsRead - keyCheck.withoutKey.d1RowsRead,
    d1RowsWritten: keyCheck.withKey.d1RowsWritten - keyCheck.withoutKey.d1RowsWritten,
    runtimeCpuMs: keyCheck.withKey.runtimeCpuMs - keyCheck.withoutKey.runtimeCpuMs,
  };

  const smsUsdPerMillion = (PRICES.smsInr / options.usdInr) * 1_000_000;
  const costs = {
    successful: price(successful),
    statusPoll: price(pollCounts),
    rejectedPerPhone: price(rejected.perPhone),
    rejectedBlockedPrefix: price(rejected.blockedPrefix),
  };
  const infraShare = costs.successful.total / smsUsdPerMillion;
  // Database growth over the request-and-delivery phase: what a month of retention stores.
  const d1BytesPerOtp = typeof delivery.delta.d1.sizeAfter === 'number' ? delivery.delta.d1.sizeAfter / N : null;

  console.log(`Cost per OTP: ${N} OTPs per phase, prices in USD per million`);
  const show = (name, counts) =>
    console.log(
      `  ${name}: Worker invocations ${fmt(counts.workerInvocations, 2)}, DO requests ${fmt(counts.doRequests, 2)} (+${fmt(counts.alarmsScheduled, 2)} alarms to come), DO rows read/written ${fmt(counts.doSqlRowsRead + counts.doKvReads, 1)}/${fmt(counts.doSqlRowsWritten + counts.doKvWrites, 1)}, D1 statements ${fmt(counts.d1Statements, 2)} rows read/written ${fmt(counts.d1RowsRead, 1)}/${fmt(counts.d1RowsWritten, 1)}, queue w/r/d ${fmt(counts.queueWrites, 2)}/${fmt(counts.queueReads, 2)}/${fmt(counts.queueDeletes, 2)}, subrequests ${fmt(counts.subrequests, 2)}, runtime CPU ${fmt(counts.runtimeCpuMs, 1)} ms`,
    );
  show('successful OTP (request, delivery, verification)', successful);
  console.log(
    `    object rows written by class: ${Object.entries(successful.doRowsWrittenByClass)
      .map(([name, rows]) => `${name} ${fmt(rows, 2)}`)
      .join(', ')}`,
  );
  show('status poll', pollCounts);
  show('rejected (per-phone limit)', rejected.perPhone);
  show('rejected (blocked prefix)', rejected.blockedPrefix);
  show('key check: no key (401)', keyCheck.withoutKey);
  show('key check: valid key (400 after it)', keyCheck.withKey);
  console.log('');
  console.log('| item | per million successful OTPs (USD) |');
  console.log('|---|---:|');
  for (const [name, usd] of Object.entries(costs.successful.lines)) console.log(`| ${name} | ${fmt(usd, 2)} |`);
  console.log(`| **infrastructure total** | **${fmt(costs.successful.total, 2)}** |`);
  console.log(`| SMS (Rs ${PRICES.smsInr} at Rs ${options.usdInr}/USD) | ${fmt(smsUsdPerMillion, 0)} |`);
  console.log(
    `infrastructure / SMS: ${fmt(infraShare * 100, 2)}% (target under 1%); a rejected request: ${fmt(costs.rejectedPerPhone.total, 2)} USD per million (per-phone), ${fmt(costs.rejectedBlockedPrefix.total, 2)} (blocked prefix); D1 statements ${rejected.perPhone.d1Statements + rejected.blockedPrefix.d1Statements}, queue writes ${rejected.perPhone.queueWrites + rejected.blockedPrefix.queueWrites}`,
  );

  const result = {
    options,
    prices: PRICES,
    pricesSource: PRICES_SOURCE,
    pricesChecked: PRICES_CHECKED,
    smsUsdPerMillion,
    successful,
    split,
    statusPoll: pollCounts,
    rejected,
    keyCheck,
    costs,
    infraShare,
    d1BytesPerOtp,
    byStatement: {
      delivery: delivery.delta.d1.byStatement,
      verification: verification.delta.d1.byStatement,
      'delivery report': report.delta.d1.byStatement,
    },
    phases: phases.map((phase) => ({ label: phase.label, units: phase.units, cpuMs: phase.cpuMs, idleCpuMs: phase.idleCpuMs ?? null, delta: phase.delta })),
    seconds: (Date.now() - started) / 1000,
  };
  if (options.json) writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
  return 0;
});

function statementsWhere(delta, match, units) {
  const entries = Object.entries(delta.d1.byStatement).filter(([label]) => match(label));
  return {
    statements: entries.reduce((total, [, entry]) => total + entry.count, 0) / units,
    rowsRead: entries.reduce((total, [, entry]) => total + entry.rowsRead, 0) / units,
    rowsWritten: entries.reduce((total, [, entry]) => total + entry.rowsWritten, 0) / units,
  };
}
