#!/usr/bin/env node
/**
 * Dispatch path benchmark: `npm run bench:dispatch`.
 *
 * 2,000 queued sends drain through the real queue consumer (wrangler dev, local queue and D1) to
 * the StartMessaging stand-in answering after 100 ms with an account limit of 100 requests/s
 * (token bucket), with PROVIDER_RATE_PER_SECOND=100. Measured from the stand-in's records and the
 * request rows: time to drain, achieved provider rate as a share of the limit, provider 429s,
 * duplicates (a request with more than one SMS), lost requests (no SMS, or not `sent`). Then again
 * with 20% of provider calls failing with 500: every request must still be delivered exactly once.
 *
 * The backlog is written directly (the same insert statements and queue message `POST /v1/otp`
 * writes, through a bench-only route of bench/workers/instrumented), because the local API admits
 * fewer requests per second than the 100/s being measured and would throttle the drain itself.
 *
 * A third scenario is a what-if on the configuration (batches of 100 instead of the shipped
 * size), to show how much of any shortfall comes per batch; --what-if=false skips it.
 *
 * Options: --sends 2000 --runs 3 --rate 100 --latency 100 --fail-rate 0.2 --what-if=false --json <file>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStandIn } from '../scripts/startmessaging-stand-in.mjs';
import { createRun, deriveConfig, fmt, foreignLoad, median, migrate, parseArgs, request, sleep, snapshotProject, startDev, stateDir } from './lib/harness.mjs';

const options = parseArgs(process.argv.slice(2), {
  sends: 2000,
  runs: 3,
  rate: 100,
  latency: 100,
  failRate: 0.2,
  whatIf: true,
  json: '',
});
const TARGET_RATE_SHARE = 0.95;
const API_KEY = 'bench-key';

const run = createRun('dispatch', { overallTimeoutMs: 40 * 60_000 });

await run.main(async () => {
  const started = Date.now();
  const project = snapshotProject(run);
  const standIn = await startStandIn({ port: 0, host: '127.0.0.1', latencyMs: options.latency, rateLimit: options.rate, seed: 20261126 });
  run.closers.push(() => standIn.close());
  // The stand-in's fail rate is fixed at start; a second one serves the failing scenario.
  const flaky = await startStandIn({ port: 0, host: '127.0.0.1', latencyMs: options.latency, rateLimit: options.rate, failRate: options.failRate, seed: 20261127 });
  run.closers.push(() => flaky.close());

  const config = deriveConfig(project, { file: 'wrangler.bench-dispatch.toml', main: 'bench/workers/instrumented/index.js' });
  const batchSize = Number(/max_batch_size = (\d+)/.exec(readFileSync(join(project, 'wrangler.toml'), 'utf8'))?.[1]);
  // What-if, not the shipped config: the send queue's batches at the platform's maximum of 100,
  // to show how much of the shortfall is per batch.
  const bigBatches = deriveConfig(project, {
    file: 'wrangler.bench-dispatch-100.toml',
    main: 'bench/workers/instrumented/index.js',
    edit: (text) => {
      const edited = text.replace(/(queue = "otp-send"\nmax_batch_size = )\d+/, '$1100');
      if (edited === text) throw new Error('could not find the otp-send consumer batch size in wrangler.toml');
      return edited;
    },
  });
  const scenarios = [
    { name: 'clean', label: 'clean', standIn, failRate: 0, config },
    { name: `${Math.round(options.failRate * 100)}% 500s`, label: 'flaky', standIn: flaky, failRate: options.failRate, config },
    ...(options.whatIf ? [{ name: 'clean, batches of 100 (what-if)', label: 'batch100', standIn, failRate: 0, config: bigBatches, whatIf: true }] : []),
  ];
  console.log(`Dispatch path: ${options.sends} queued sends, provider latency ${options.latency} ms, account limit ${options.rate}/s, PROVIDER_RATE_PER_SECOND=${options.rate}, ${options.runs} runs per scenario`);

  const results = [];
  let phoneBase = 7_000_000_000;
  for (const scenario of scenarios) {
    // A server per scenario, each pointed at its stand-in; the pacer's state starts fresh.
    const persistTo = stateDir(run, scenario.label);
    await migrate(run, project, persistTo, scenario.config);
    const dev = await startDev(run, {
      cwd: project,
      config: scenario.config,
      persistTo,
      label: `dispatch-${scenario.label}`,
      vars: {
        PROVIDER_MODE: 'startmessaging',
        SM_BASE_URL: scenario.standIn.url,
        SM_API_KEY: API_KEY,
        OTP_SECRET: 'bench-otp-secret-not-for-production',
        PROVIDER_RATE_PER_SECOND: String(options.rate),
      },
    });
    for (let runIndex = 0; runIndex < options.runs; runIndex += 1) {
      scenario.standIn.reset();
      await sleep(500);
      const phones = Array.from({ length: options.sends }, (_, i) => `+91${phoneBase + i}`);
      phoneBase += options.sends;
      const load = foreignLoad([dev.child.pid]);
      const seededAt = Date.now();
      const requestIds = [];
      for (let offset = 0; offset < phones.length; offset += 100) {
        const answer = await request('POST', `${dev.base}/__bench/seed`, { body: { phones: phones.slice(offset, offset + 100) } });
        if (answer.status !== 200) throw new Error(`seed failed: ${answer.status} ${answer.text.slice(0, 200)}`);
        requestIds.push(...answer.json.requestIds);
      }
      const enqueuedAt = Date.now();

      // Drained when every request row reads `sent`; bounded in time.
      const deadline = Date.now() + (scenario.failRate ? 240_000 : 150_000);
      let statuses = {};
      let drainedAt = null;
      for (let i = 0; i < 5000 && Date.now() < deadline; i += 1) {
        statuses = (await request('GET', `${dev.base}/__bench/statuses?since=${seededAt}`)).json ?? {};
        if ((statuses.sent ?? 0) >= options.sends) {
          drainedAt = Date.now();
          break;
        }
        await sleep(200);
      }
      const { foreign } = load.end();
      await sleep(500);

      const calls = scenario.standIn.calls();
      const stats = scenario.standIn.stats();
      const keys = new Map(requestIds.map((id) => [`otpd-${id}`, 0]));
      for (const call of calls) if (call.newSms && keys.has(call.idempotencyKey)) keys.set(call.idempotencyKey, keys.get(call.idempotencyKey) + 1);
      const lost = [...keys.values()].filter((count) => count === 0).length;
      const duplicateKeys = [...keys.values()].filter((count) => count > 1).length;
      const smsPerPhone = new Map();
      for (const call of calls) if (call.newSms) smsPerPhone.set(call.phoneNumber, (smsPerPhone.get(call.phoneNumber) ?? 0) + 1);
      const duplicatePhones = [...smsPerPhone.values()].filter((count) => count > 1).length;

      // Provider-side rate: every call counts against the account limit, failed ones too.
      const times = calls.map((call) => call.at).sort((a, b) => a - b);
      const spanSeconds = times.length > 1 ? (times.at(-1) - times[0]) / 1000 : NaN;
      const callRate = (times.length - 1) / spanSeconds;
      const delivered = calls.filter((call) => call.newSms).length;
      // Where the provider sat idle: gaps well above the pacing interval between calls.
      const interval = 1000 / options.rate;
      let idleMs = 0;
      let gaps = 0;
      for (let i = 1; i < times.length; i += 1) {
        const gap = times[i] - times[i - 1];
        if (gap > 3 * interval) {
          idleMs += gap - interval;
          gaps += 1;
        }
      }
      const row = {
        scenario: scenario.name,
        run: runIndex + 1,
        sends: options.sends,
        seedSeconds: (enqueuedAt - seededAt) / 1000,
        drainSeconds: drainedAt ? (drainedAt - seededAt) / 1000 : null,
        providerCalls: calls.length,
        delivered,
        callSpanSeconds: spanSeconds,
        callRate,
        rateShare: callRate / options.rate,
        deliveredRate: delivered / spanSeconds,
        rateLimited: stats.rateLimited,
        failed500: stats.failed500,
        peakRps: stats.peakRps,
        // A request with two SMS, seen by key or by phone (each phone asked once).
        duplicates: Math.max(duplicateKeys, duplicatePhones, stats.duplicates),
        // A request that never got its SMS, or whose row never reached `sent`.
        lost: Math.max(lost, options.sends - (statuses.sent ?? 0)),
        statuses,
        idleGaps: gaps,
        idleSeconds: idleMs / 1000,
        // The rate while calls were flowing: how exact the pacing is, apart from the gaps.
        busyRate: (times.length - 1) / (spanSeconds - idleMs / 1000),
        foreignCpuShare: foreign,
      };
      results.push(row);
      console.log(
        `  ${scenario.name} run ${row.run}: drained in ${row.drainSeconds === null ? 'did not drain' : `${fmt(row.drainSeconds)} s`}, ${row.providerCalls} calls at ${fmt(row.callRate)}/s (${fmt(row.rateShare * 100)}% of ${options.rate}/s), 429s ${row.rateLimited}, 500s ${row.failed500}, duplicates ${row.duplicates}, lost ${row.lost}; provider idle ${fmt(row.idleSeconds)} s in ${row.idleGaps} gaps`,
      );
    }
    await dev.stop();
  }

  const summary = scenarios.map((scenario) => {
    const rows = results.filter((row) => row.scenario === scenario.name);
    return {
      scenario: scenario.name,
      failRate: scenario.failRate,
      runs: rows.length,
      drainSeconds: median(rows.map((row) => row.drainSeconds ?? NaN)),
      callRate: median(rows.map((row) => row.callRate)),
      rateShare: median(rows.map((row) => row.rateShare)),
      deliveredRate: median(rows.map((row) => row.deliveredRate)),
      providerCalls: median(rows.map((row) => row.providerCalls)),
      rateLimited: Math.max(...rows.map((row) => row.rateLimited)),
      failed500: median(rows.map((row) => row.failed500)),
      duplicates: Math.max(...rows.map((row) => row.duplicates)),
      lost: Math.max(...rows.map((row) => row.lost)),
      idleSeconds: median(rows.map((row) => row.idleSeconds)),
      idleGaps: median(rows.map((row) => row.idleGaps)),
      busyRate: median(rows.map((row) => row.busyRate)),
      allDrained: rows.every((row) => row.drainSeconds !== null),
      whatIf: Boolean(scenario.whatIf),
      foreignCpuShare: median(rows.map((row) => row.foreignCpuShare)),
    };
  });

  console.log('');
  console.log('| scenario | time to drain | provider calls | achieved rate | share of limit | 429s | 500s | duplicates | lost |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of summary) {
    console.log(
      `| ${row.scenario} | ${fmt(row.drainSeconds)} s | ${fmt(row.providerCalls, 0)} | ${fmt(row.callRate)}/s | ${fmt(row.rateShare * 100)}% | ${row.rateLimited} | ${fmt(row.failed500, 0)} | ${row.duplicates} | ${row.lost} |`,
    );
  }
  const result = {
    options,
    batchSize,
    targets: { rateShareMin: TARGET_RATE_SHARE, rateLimited: 0, duplicates: 0, lost: 0 },
    summary,
    runs: results,
    seconds: (Date.now() - started) / 1000,
  };
  if (options.json) writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
  return 0;
});
