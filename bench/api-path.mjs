#!/usr/bin/env node
/**
 * API path benchmark: `npm run bench:api`.
 *
 * `POST /v1/otp` throughput and latency (p50, p99) at 1, 16 and 64 concurrent keep-alive
 * connections, every request with its own phone number and client address, the default limits in
 * place. In the same run, on the same runtime, two baselines:
 *
 * - ceiling: a Worker that answers 202 and does nothing else (bench/workers/ceiling);
 * - synchronous: the tutorial design, a per-phone Durable Object counter and then the provider
 *   call inside the request (bench/workers/sync-tutorial), against the StartMessaging stand-in
 *   answering after 300 ms.
 *
 * Each run measures the three side by side at each level; ratios are taken within a run and the
 * report gives medians over runs. Then the same two designs at one fixed arrival rate (open loop),
 * and a CPU profile of the Worker's isolate under load, to show where the local runtime's time goes.
 *
 * Options: --runs 3 --duration 5 --warmup 1 --levels 1,16,64 --open-rate 20 --global-limit 24000/60
 *          --json <file> --no-profile
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStandIn } from '../scripts/startmessaging-stand-in.mjs';
import { cpuByRole, cpuDelta, createRun, deriveConfig, fmt, foreignLoad, median, migrate, parseArgs, request, selfCpuMs, snapshotProject, startDev, stateDir } from './lib/harness.mjs';
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
});
const levels = options.levels.split(',').map(Number);
const TARGET_THROUGHPUT_SHARE = 0.5;
const TARGET_P99_FACTOR = 10;

/**
 * Request i's phone: +1, an area code and one more digit (8,000 five-digit prefixes), then a
 * thousand-block unique to i. Traffic this wide trips no pumping signal (no prefix sees 20 sends,
 * no thousand-block sees two numbers), as a large real audience would not, even though nobody
 * verifies here.
 */
function phoneFor(i) {
  const npa = 200 + (i % 800);
  const digit = Math.floor(i / 800) % 10;
  const block = String(Math.floor(i / 8000) % 1000).padStart(3, '0');
  const last = String((i * 7919) % 1000).padStart(3, '0');
  return `+1${npa}${digit}${block}${last}`;
}

/** Request i's client address, unique up to 131,072: the range reserved for benchmarking (RFC 2544). */
const ipFor = (i) => `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`;

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
  const servers = {
    ceiling: await startDev(run, { cwd: join(project, 'bench/workers/ceiling'), label: 'ceiling' }),
    api: await startDev(run, { cwd: project, config: apiConfig, persistTo: apiState, label: 'api', vars: { GLOBAL_SEND_LIMIT: options.globalLimit } }),
    sync: await startDev(run, {
      cwd: join(project, 'bench/workers/sync-tutorial'),
      persistTo: stateDir(run, 'sync'),
      label: 'sync',
      vars: { SM_BASE_URL: standIn.url },
    }),
  };
  const counters = { ceiling: 0, api: 0, sync: 0 };
  const builder = (name) => () => {
    const i = counters[name]++;
    return { path: '/v1/otp', headers: { 'CF-Connecting-IP': ipFor(i) }, body: { phoneNumber: phoneFor(i) } };
  };

  // Sanity: each answers what it should before anything is measured.
  for (const [name, expected] of [['ceiling', 202], ['api', 202], ['sync', 200]]) {
    const spec = builder(name)();
    const answer = await request('POST', `${servers[name].base}${spec.path}`, { body: spec.body, headers: spec.headers });
    if (answer.status !== expected) throw new Error(`${name}: expected ${expected}, got ${answer.status} ${answer.text.slice(0, 200)}`);
  }
  console.log(`API path: ${options.runs} runs x levels ${levels.join(', ')} x (ceiling, api, sync), ${options.duration} s each after ${options.warmup} s warm-up`);
  console.log(`  limits: defaults from wrangler.toml except GLOBAL_SEND_LIMIT=${options.globalLimit} (default ${defaults.GLOBAL_SEND_LIMIT}); queue consumer detached; sync provider latency ${options.providerLatency} ms`);

  const measurements = [];
  for (let runIndex = 0; runIndex < options.runs; runIndex += 1) {
    for (const concurrency of levels) {
      const row = { run: runIndex + 1, concurrency };
      for (const name of ['ceiling', 'api', 'sync']) {
        const cpuBefore = cpuByRole(servers[name]);
        const selfBefore = selfCpuMs();
        const load = foreignLoad(Object.values(servers).map((server) => server.child.pid));
        const result = await runLoad({ base: servers[name].base, concurrency, durationMs: options.duration * 1000, warmupMs: options.warmup * 1000, build: builder(name) });
        const cpu = cpuDelta(cpuBefore, cpuByRole(servers[name]));
        const requestsSeen = result.sent;
        result.cpuMsPerRequest = Object.fromEntries(Object.entries(cpu).map(([role, ms]) => [role, ms / requestsSeen]));
        result.loadGeneratorCpuMsPerRequest = (selfCpuMs() - selfBefore) / requestsSeen;
        Object.assign(result, load.end());
        row[name] = result;
      }
      row.throughputShare = row.api.throughput / row.ceiling.throughput;
      row.p99Factor = row.sync.p99 / row.api.p99;
      measurements.push(row);
      console.log(
        `  run ${row.run} c=${concurrency}: ceiling ${fmt(row.ceiling.throughput, 0)}/s p99 ${fmt(row.ceiling.p99)} ms | api ${fmt(row.api.throughput, 0)}/s p50 ${fmt(row.api.p50)} p99 ${fmt(row.api.p99)} ms ${JSON.stringify(row.api.statuses)} | sync ${fmt(row.sync.throughput, 0)}/s p50 ${fmt(row.sync.p50)} p99 ${fmt(row.sync.p99)} ms ${JSON.stringify(row.sync.statuses)} | api/ceiling ${fmt(row.throughputShare * 100)}% sync/api p99 ${fmt(row.p99Factor)}x`,
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
    console.log(`  open loop ${options.openRate}/s run ${row.run}: api p50 ${fmt(row.api.p50)} p99 ${fmt(row.api.p99)} ms | sync p50 ${fmt(row.sync.p50)} p99 ${fmt(row.sync.p99)} ms | ${fmt(row.p99Factor)}x`);
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
      sync: { throughput: pick('sync', 'throughput'), p50: pick('sync', 'p50'), p99: pick('sync', 'p99') },
      throughputShare: median(rows.map((row) => row.throughputShare)),
      p99Factor: median(rows.map((row) => row.p99Factor)),
      cpuMsPerRequest: Object.fromEntries(['ceiling', 'api', 'sync'].map((name) => [name, { proxy: cpu(name, 'proxy'), runtime: cpu(name, 'runtime'), wrangler: cpu(name, 'wrangler') }])),
      loadGeneratorCpuMsPerRequest: median(rows.map((row) => row.api.loadGeneratorCpuMsPerRequest)),
      nonSuccess: rows.reduce((sum, row) => sum + row.api.requests - (row.api.statuses[202] ?? 0), 0),
      foreignCpuShare: median(rows.flatMap((row) => ['ceiling', 'api', 'sync'].map((name) => row[name].foreign))),
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
  console.log(`open loop at ${openSummary.ratePerSecond}/s: API p99 ${fmt(openSummary.api.p99)} ms, sync p99 ${fmt(openSummary.sync.p99)} ms: ${fmt(openSummary.p99Factor)}x`);

  const result = {
    options,
    targets: { throughputShareMin: TARGET_THROUGHPUT_SHARE, p99FactorMin: TARGET_P99_FACTOR },
    defaultsGlobalSendLimit: defaults.GLOBAL_SEND_LIMIT,
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
