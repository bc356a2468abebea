#!/usr/bin/env node
/**
 * API path benchmark: `npm run bench:api`.
 *
 * `POST /v1/otp` throughput and latency (p50, p99) at 1, 16 and 64 concurrent keep-alive
 * connections, every request with its own phone number and client address, the default limits in
 * place. In the same run, on the same runtime, two baselines and one decomposition:
 *
 * - ceiling: a Worker that answers 202 and does nothing else (bench/workers/ceiling);
 * - synchronous: the tutorial design, a per-phone Durable Object counter and then the provider
 *   call inside the request (bench/workers/sync-tutorial), against the StartMessaging stand-in
 *   answering after 300 ms;
 * - API, platform stubbed: the same production Worker with D1, the queues and the Durable Object
 *   namespaces replaced by in-memory stand-ins that answer at once what the real ones answer on
 *   the admit path (bench/workers/stubbed). Its cost is the Worker's own code; the difference
 *   from the API is what the local simulation of the platform (and the objects' own code) costs.
 *   A decomposition of the local figures, not a production design.
 *
 * - before (with --before <commit>): the production Worker as it was at that commit, on its own
 *   migrations and wrangler.toml, measured next to the others so that a change's effect on the API
 *   is read against the same ceiling minutes apart, not against another run's.
 *
 * Each run measures them side by side at each level; ratios are taken within a run and the
 * report gives medians over runs. Then the same two designs at one fixed arrival rate (open loop),
 * and a CPU profile of the Worker's isolate under load, to show where the local runtime's time goes.
 *
 * Options: --runs 3 --duration 5 --warmup 1 --levels 1,16,64 --open-rate 20 --global-limit 24000/60
 *          --json <file> --no-profile --before <commit>
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEV_APP_AUTH } from '../scripts/lib/local-dev-secrets.mjs';
import { sendableNanpAreaCodes } from '../scripts/lib/phones.mjs';
import { startStandIn } from '../scripts/startmessaging-stand-in.mjs';
import {
  cpuByRole,
  cpuDelta,
  createRun,
  deriveConfig,
  fmt,
  foreignLoad,
  mapLimit,
  median,
  migrate,
  parseArgs,
  request,
  selfCpuMs,
  snapshotCommit,
  snapshotProject,
  startDev,
  stateDir,
} from './lib/harness.mjs';
import { runLoad, runOpenLoop } from './lib/load.mjs';
import { connectProfiler, summariseProfile } from './lib/profile.mjs';
import { wranglerVars } from './lib/vars.mjs';

const options = parseArgs(process.argv.slice(2), {
  runs: 3,
  duration: 5,
  warmup: 1,
  levels: '1,16,64',
  openRate: 20,
  globalLimit: '24000/60',
  providerLatency: 300,
  json: '',
  noProfile: false,
  before: '',
});
const levels = options.levels.split(',').map(Number);
const TARGET_THROUGHPUT_SHARE = 0.5;
const TARGET_P99_FACTOR = 10;

/**
 * What one run at one level says about the API's cost per request, from the stubbed design
 * measured next to it: the stubbed Worker's throughput against the ceiling; the share of the
 * API's time per request (1 / throughput) that the platform simulation takes, 1 - API/stubbed;
 * and the same split of the runtime process's CPU per request: ceiling (the runtime's floor),
 * the Worker's own code above that floor (stubbed - ceiling), the platform simulation with the
 * objects' own code (API - stubbed).
 */
const DECOMPOSITION_FIELDS = ['stubbedThroughputShare', 'platformShare', 'platformCpuShare', 'workerCpuMsPerRequest', 'platformCpuMsPerRequest'];

function decomposition(row) {
  const runtime = (name) => row[name].cpuMsPerRequest.runtime;
  return {
    stubbedThroughputShare: row.stubbed.throughput / row.ceiling.throughput,
    platformShare: 1 - row.api.throughput / row.stubbed.throughput,
    platformCpuShare: (runtime('api') - runtime('stubbed')) / runtime('api'),
    workerCpuMsPerRequest: runtime('stubbed') - runtime('ceiling'),
    platformCpuMsPerRequest: runtime('api') - runtime('stubbed'),
  };
}

/**
 * The API against the same Worker at an earlier commit, measured in the same run at the same
 * level: each one's share of that measurement's ceiling, and the after/before ratio of those
 * shares (the ceiling is shared, so it is also the ratio of requests per second).
 */
const BEFORE_AND_AFTER_FIELDS = ['beforeThroughputShare', 'speedup', 'cpuSpeedup'];

function beforeAndAfter(row) {
  const beforeThroughputShare = row.before.throughput / row.ceiling.throughput;
  return {
    beforeThroughputShare,
    speedup: row.throughputShare / beforeThroughputShare,
    cpuSpeedup: row.before.cpuMsPerRequest.runtime / row.api.cpuMsPerRequest.runtime,
  };
}

/**
 * Request i's phone: +1, an area code the service accepts whole and one more digit, 2-9 (some
 * 3,500 five-digit prefixes), then a thousand-block unique to i. Traffic this wide trips no
 * pumping signal (no prefix sees 20 sends, no thousand-block sees two numbers), as a large real
 * audience would not, even though nobody verifies here.
 */
const AREA_CODES = sendableNanpAreaCodes();
function phoneFor(i) {
  const npa = AREA_CODES[i % AREA_CODES.length];
  const digit = 2 + (Math.floor(i / AREA_CODES.length) % 8);
  const block = String(Math.floor(i / (AREA_CODES.length * 8)) % 1000).padStart(3, '0');
  const last = String((i * 7919) % 1000).padStart(3, '0');
  return `+1${npa}${digit}${block}${last}`;
}

/** Request i's client address, unique up to 131,072: the range reserved for benchmarking (RFC 2544). */
const ipFor = (i) => `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`;

/** The five-digit prefixes `phoneFor` spreads over (area code and one more digit). */
const PREFIX_COUNT = AREA_CODES.length * 8;

/**
 * One request per prefix the runs use, each number alone in a thousand-block no measured number
 * uses (999) and each from its own address outside the measured range: enough addresses that every
 * one of the 256 client address shards is reached.
 */
function warmupRequests() {
  return Array.from({ length: PREFIX_COUNT }, (_, i) => {
    const npa = AREA_CODES[i % AREA_CODES.length];
    const digit = 2 + (Math.floor(i / AREA_CODES.length) % 8);
    return {
      path: '/v1/otp',
      headers: { ...DEV_APP_AUTH, 'CF-Connecting-IP': `203.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
      body: { phoneNumber: `+1${npa}${digit}999000` },
    };
  });
}

/**
 * Nobody verifies a code here, which trips the conversion step-up (a real audience verifies most
 * of its codes): after STEP_UP_MIN_SENDS settled sends every fresh number would get a 429, and a
 * refusal is cheaper than a send. Raised out of reach so that every request is an admitted send;
 * the ledger's counting and reporting still run on every request.
 */
const NO_STEP_UP = { STEP_UP_MIN_SENDS: '1000000' };

const run = createRun('api-path', { overallTimeoutMs: 40 * 60_000 });

await run.main(async () => {
  const started = Date.now();
  const project = snapshotProject(run);
  const defaults = wranglerVars();
  const standIn = await startStandIn({ port: 0, host: '127.0.0.1', latencyMs: options.providerLatency });
  run.closers.push(() => standIn.close());

  const apiConfig = deriveConfig(project, { file: 'wrangler.bench-api.toml', dropConsumers: true });
  const apiState = stateDir(run, 'api');
  await migrate(run, project, apiState, apiConfig);
  // The same bindings and vars as the API, `main` pointed at the entry module with the stand-ins.
  const stubbedConfig = deriveConfig(project, { file: 'wrangler.bench-stubbed.toml', main: 'bench/workers/stubbed/index.js', dropConsumers: true });
  const servers = {
    ceiling: await startDev(run, { cwd: join(project, 'bench/workers/ceiling'), label: 'ceiling' }),
    api: await startDev(run, {
      cwd: project,
      config: apiConfig,
      persistTo: apiState,
      label: 'api',
      vars: { GLOBAL_SEND_LIMIT: options.globalLimit, ...NO_STEP_UP },
    }),
    stubbed: await startDev(run, {
      cwd: project,
      config: stubbedConfig,
      persistTo: stateDir(run, 'stubbed'),
      label: 'stubbed',
      vars: { GLOBAL_SEND_LIMIT: options.globalLimit, ...NO_STEP_UP },
    }),
    sync: await startDev(run, {
      cwd: join(project, 'bench/workers/sync-tutorial'),
      persistTo: stateDir(run, 'sync'),
      label: 'sync',
      vars: { SM_BASE_URL: standIn.url },
    }),
  };
  let before = null;
  if (options.before) {
    const beforeProject = snapshotCommit(run, options.before, 'before');
    const beforeConfig = deriveConfig(beforeProject.dir, { file: 'wrangler.bench-api.toml', dropConsumers: true });
    const beforeState = stateDir(run, 'before');
    await migrate(run, beforeProject.dir, beforeState, beforeConfig);
    servers.before = await startDev(run, {
      cwd: beforeProject.dir,
      config: beforeConfig,
      persistTo: beforeState,
      label: 'before',
      vars: { GLOBAL_SEND_LIMIT: options.globalLimit },
    });
    before = { commit: beforeProject.commit, subject: beforeProject.subject };
  }
  // Interleaved at every level of every run, so each design meets the same machine minutes apart.
  const designs = ['ceiling', 'api', ...(before ? ['before'] : []), 'stubbed', 'sync'];
  const counters = Object.fromEntries(designs.map((name) => [name, 0]));
  // Every design gets the same request: the development app's secret key, which the API and the
  // stubbed design check (one key lookup per isolate and 30 s) and the baselines ignore.
  const builder = (name) => () => {
    const i = counters[name]++;
    return { path: '/v1/otp', headers: { ...DEV_APP_AUTH, 'CF-Connecting-IP': ipFor(i) }, body: { phoneNumber: phoneFor(i) } };
  };

  // Sanity: each answers what it should before anything is measured. The stubbed design answers
  // 202 only if every stand-in's answer satisfies the Worker and its inputs pass the real
  // objects' schemas (bench/workers/stubbed checks them on first use).
  for (const [name, expected] of [['ceiling', 202], ['api', 202], ...(before ? [['before', 202]] : []), ['stubbed', 202], ['sync', 200]]) {
    const spec = builder(name)();
    const answer = await request('POST', `${servers[name].base}${spec.path}`, { body: spec.body, headers: spec.headers });
    if (answer.status !== expected) throw new Error(`${name}: expected ${expected}, got ${answer.status} ${answer.text.slice(0, 200)}`);
  }
  // Steady state, for both API designs: every prefix object the runs will use and every client
  // address shard exists, as they do for a deployment with a large audience (which concentrates in
  // far fewer prefixes than this benchmark spreads over). What stays new per measured request is
  // what a real audience brings: a fresh number and address (and, in the design before, the
  // per-phone and per-address objects they create).
  const warmup = {};
  for (const name of ['api', ...(before ? ['before'] : [])]) {
    const startedAt = Date.now();
    const statuses = {};
    await mapLimit(warmupRequests(), 16, async (spec) => {
      const answer = await request('POST', `${servers[name].base}${spec.path}`, { body: spec.body, headers: spec.headers });
      statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
    });
    warmup[name] = { requests: PREFIX_COUNT, seconds: (Date.now() - startedAt) / 1000, statuses };
    console.log(`  warm-up ${name}: one request per prefix (${PREFIX_COUNT}) in ${fmt(warmup[name].seconds)} s ${JSON.stringify(statuses)}`);
  }
  console.log(
    `API path: ${options.runs} runs x levels ${levels.join(', ')} x (${designs.join(', ')}), ${options.duration} s each after ${options.warmup} s warm-up`,
  );
  console.log(
    `  limits: defaults from wrangler.toml except GLOBAL_SEND_LIMIT=${options.globalLimit} (default ${defaults.GLOBAL_SEND_LIMIT}) and STEP_UP_MIN_SENDS=${NO_STEP_UP.STEP_UP_MIN_SENDS} (nobody verifies here); queue consumer detached; sync provider latency ${options.providerLatency} ms`,
  );

  const measurements = [];
  for (let runIndex = 0; runIndex < options.runs; runIndex += 1) {
    for (const concurrency of levels) {
      const row = { run: runIndex + 1, concurrency };
      for (const name of designs) {
        const cpuBefore = cpuByRole(servers[name]);
        const selfBefore = selfCpuMs();
        const load = foreignLoad(Object.values(servers).map((server) => server.child.pid));
        const result = await runLoad({
          base: servers[name].base,
          concurrency,
          durationMs: options.duration * 1000,
          warmupMs: options.warmup * 1000,
          build: builder(name),
        });
        const cpu = cpuDelta(cpuBefore, cpuByRole(servers[name]));
        const requestsSeen = result.sent;
        result.cpuMsPerRequest = Object.fromEntries(Object.entries(cpu).map(([role, ms]) => [role, ms / requestsSeen]));
        result.loadGeneratorCpuMsPerRequest = (selfCpuMs() - selfBefore) / requestsSeen;
        Object.assign(result, load.end());
        row[name] = result;
      }
      row.throughputShare = row.api.throughput / row.ceiling.throughput;
      row.p99Factor = row.sync.p99 / row.api.p99;
      Object.assign(row, decomposition(row));
      if (before) Object.assign(row, beforeAndAfter(row));
      measurements.push(row);
      console.log(
        `  run ${row.run} c=${concurrency}: ${before ? `before ${fmt(row.before.throughput, 0)}/s p99 ${fmt(row.before.p99)} ms ${JSON.stringify(row.before.statuses)} (after/before ${fmt(row.speedup, 2)}x) | ` : ''}ceiling ${fmt(row.ceiling.throughput, 0)}/s p99 ${fmt(row.ceiling.p99)} ms | api ${fmt(row.api.throughput, 0)}/s p50 ${fmt(row.api.p50)} p99 ${fmt(row.api.p99)} ms ${JSON.stringify(row.api.statuses)} | stubbed ${fmt(row.stubbed.throughput, 0)}/s p50 ${fmt(row.stubbed.p50)} p99 ${fmt(row.stubbed.p99)} ms ${JSON.stringify(row.stubbed.statuses)} | sync ${fmt(row.sync.throughput, 0)}/s p50 ${fmt(row.sync.p50)} p99 ${fmt(row.sync.p99)} ms ${JSON.stringify(row.sync.statuses)} | api/ceiling ${fmt(row.throughputShare * 100)}% stubbed/ceiling ${fmt(row.stubbedThroughputShare * 100)}% platform ${fmt(row.platformShare * 100)}% of api time, ${fmt(row.platformCpuShare * 100)}% of api runtime CPU | sync/api p99 ${fmt(row.p99Factor)}x`,
      );
    }
  }

  const openLoop = [];
  for (let runIndex = 0; runIndex < options.runs; runIndex += 1) {
    const row = { run: runIndex + 1 };
    for (const name of ['api', 'sync']) {
      row[name] = await runOpenLoop({ base: servers[name].base, ratePerSecond: options.openRate, durationMs: options.duration * 1000, build: builder(name) });
    }
    row.p99Factor = row.sync.p99 / row.api.p99;
    openLoop.push(row);
    console.log(
      `  open loop ${options.openRate}/s run ${row.run}: api p50 ${fmt(row.api.p50)} p99 ${fmt(row.api.p99)} ms | sync p50 ${fmt(row.sync.p50)} p99 ${fmt(row.sync.p99)} ms | ${fmt(row.p99Factor)}x`,
    );
  }

  let profile = null;
  if (!options.noProfile) {
    try {
      const profiler = await connectProfiler(servers.api.inspectorPort);
      await profiler.start();
      const load = await runLoad({ base: servers.api.base, concurrency: 16, durationMs: options.duration * 1000, warmupMs: 0, build: builder('api') });
      profile = summariseProfile(await profiler.stop(), load.sent);
      profiler.close();
      console.log(`  profile (c=16, ${load.sent} requests): ${fmt(profile.busyMsPerRequest, 2)} ms of the isolate's thread per request`);
      for (const category of profile.categories) console.log(`    ${fmt(category.msPerRequest, 2)} ms  ${fmt(category.share * 100)}%  ${category.name}`);
    } catch (error) {
      console.log(`  profile: not taken (${error.message})`);
    }
  }

  const summary = levels.map((concurrency) => {
    const rows = measurements.filter((row) => row.concurrency === concurrency);
    const pick = (name, field) => median(rows.map((row) => row[name][field]));
    const cpu = (name, role) => median(rows.map((row) => row[name].cpuMsPerRequest[role]));
    return {
      concurrency,
      ceiling: { throughput: pick('ceiling', 'throughput'), p50: pick('ceiling', 'p50'), p99: pick('ceiling', 'p99') },
      api: { throughput: pick('api', 'throughput'), p50: pick('api', 'p50'), p99: pick('api', 'p99') },
      stubbed: {
        throughput: pick('stubbed', 'throughput'),
        p50: pick('stubbed', 'p50'),
        p99: pick('stubbed', 'p99'),
        nonSuccess: rows.reduce((sum, row) => sum + row.stubbed.requests - (row.stubbed.statuses[202] ?? 0), 0),
      },
      sync: { throughput: pick('sync', 'throughput'), p50: pick('sync', 'p50'), p99: pick('sync', 'p99') },
      throughputShare: median(rows.map((row) => row.throughputShare)),
      p99Factor: median(rows.map((row) => row.p99Factor)),
      ...Object.fromEntries(DECOMPOSITION_FIELDS.map((field) => [field, median(rows.map((row) => row[field]))])),
      ...(before
        ? {
            before: {
              throughput: pick('before', 'throughput'),
              p50: pick('before', 'p50'),
              p99: pick('before', 'p99'),
              nonSuccess: rows.reduce((sum, row) => sum + row.before.requests - (row.before.statuses[202] ?? 0), 0),
            },
            ...Object.fromEntries(BEFORE_AND_AFTER_FIELDS.map((field) => [field, median(rows.map((row) => row[field]))])),
          }
        : {}),
      cpuMsPerRequest: Object.fromEntries(
        designs.map((name) => [name, { proxy: cpu(name, 'proxy'), runtime: cpu(name, 'runtime'), wrangler: cpu(name, 'wrangler') }]),
      ),
      loadGeneratorCpuMsPerRequest: median(rows.map((row) => row.api.loadGeneratorCpuMsPerRequest)),
      nonSuccess: rows.reduce((sum, row) => sum + row.api.requests - (row.api.statuses[202] ?? 0), 0),
      foreignCpuShare: median(rows.flatMap((row) => designs.map((name) => row[name].foreign))),
    };
  });
  const openSummary = {
    ratePerSecond: options.openRate,
    api: { p50: median(openLoop.map((row) => row.api.p50)), p99: median(openLoop.map((row) => row.api.p99)) },
    sync: { p50: median(openLoop.map((row) => row.sync.p50)), p99: median(openLoop.map((row) => row.sync.p99)) },
    p99Factor: median(openLoop.map((row) => row.p99Factor)),
  };

  console.log('');
  console.log('| connections | ceiling req/s | API req/s | API / ceiling | API p50 / p99 ms | sync req/s | sync p50 / p99 ms | sync p99 / API p99 |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of summary) {
    console.log(
      `| ${row.concurrency} | ${fmt(row.ceiling.throughput, 0)} | ${fmt(row.api.throughput, 0)} | ${fmt(row.throughputShare * 100)}% | ${fmt(row.api.p50)} / ${fmt(row.api.p99)} | ${fmt(row.sync.throughput, 0)} | ${fmt(row.sync.p50)} / ${fmt(row.sync.p99)} | ${fmt(row.p99Factor)}x |`,
    );
  }
  console.log(
    `open loop at ${openSummary.ratePerSecond}/s: API p99 ${fmt(openSummary.api.p99)} ms, sync p99 ${fmt(openSummary.sync.p99)} ms: ${fmt(openSummary.p99Factor)}x`,
  );
  console.log('');
  console.log(
    'API, platform stubbed (D1, queues and Durable Objects answered at once by in-memory stand-ins; the Worker unchanged): a decomposition, not a production figure.',
  );
  console.log('Runtime CPU ms per request; platform share = 1 - API req/s / stubbed req/s (time), and (API - stubbed) / API runtime CPU.');
  console.log(
    '| connections | stubbed req/s | stubbed / ceiling | stubbed p50 / p99 ms | runtime CPU ms/req ceiling / API / stubbed | platform share of API time | of API runtime CPU |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of summary) {
    const cpu = row.cpuMsPerRequest;
    console.log(
      `| ${row.concurrency} | ${fmt(row.stubbed.throughput, 0)} | ${fmt(row.stubbedThroughputShare * 100)}% | ${fmt(row.stubbed.p50)} / ${fmt(row.stubbed.p99)} | ${fmt(cpu.ceiling.runtime, 2)} / ${fmt(cpu.api.runtime, 2)} / ${fmt(cpu.stubbed.runtime, 2)} | ${fmt(row.platformShare * 100)}% | ${fmt(row.platformCpuShare * 100)}% |`,
    );
  }

  if (before) {
    console.log('');
    console.log(`Before (commit ${before.commit}, ${before.subject}) and after, measured side by side:`);
    console.log(
      '| connections | ceiling req/s | before req/s (/ ceiling) | after req/s (/ ceiling) | after / before | before p99 ms | after p99 ms | runtime CPU ms/req before / after |',
    );
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const row of summary) {
      console.log(
        `| ${row.concurrency} | ${fmt(row.ceiling.throughput, 0)} | ${fmt(row.before.throughput, 0)} (${fmt(row.beforeThroughputShare * 100)}%) | ${fmt(row.api.throughput, 0)} (${fmt(row.throughputShare * 100)}%) | ${fmt(row.speedup, 2)}x | ${fmt(row.before.p99)} | ${fmt(row.api.p99)} | ${fmt(row.cpuMsPerRequest.before.runtime, 2)} / ${fmt(row.cpuMsPerRequest.api.runtime, 2)} |`,
      );
    }
  }

  const result = {
    options,
    before,
    targets: { throughputShareMin: TARGET_THROUGHPUT_SHARE, p99FactorMin: TARGET_P99_FACTOR },
    defaultsGlobalSendLimit: defaults.GLOBAL_SEND_LIMIT,
    warmup,
    summary,
    openLoop: openSummary,
    measurements,
    openLoopRuns: openLoop,
    profile,
    seconds: (Date.now() - started) / 1000,
  };
  if (options.json) writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
  return 0;
});
