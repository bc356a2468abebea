#!/usr/bin/env node
/**
 * Dispatch path benchmark: `npm run bench:dispatch`.
 *
 * 2,000 queued sends drain through the real queue consumer (wrangler dev, local queue and D1) to
 * the StartMessaging stand-in answering after 100 ms with an account limit of 100 requests/s
 * (token bucket), with PROVIDER_RATE_PER_SECOND=100. Measured from the stand-in's records and the
 * request rows: time to drain, achieved provider rate as a share of the limit, provider 429s,
 * duplicates (a request with more than one SMS), lost requests (no SMS, or not `sent`). Delivery
 * reports are off (DELIVERY_CHECK_MAX=0): their status checks would share the pacer. Then again
 * with 20% of provider calls failing with 500: every request must still be delivered exactly once.
 * The consumer runs as shipped (wrangler.toml's batch size and the pacer's rule).
 *
 * The backlog is written directly (the same insert statements and queue message `POST /v1/otp`
 * writes, through a bench-only route of bench/workers/instrumented), because the local API admits
 * fewer requests per second than the 100/s being measured and would throttle the drain itself.
 *
 * Idle gaps: the pacer allows a call once the previous one is the catch-up spacing behind (the
 * even spacing divided by 1.25, the pacer's CATCH_UP_RATE) and
 * the call N places earlier a second behind. A call that started more than three even spacings
 * after the moment its predecessors allowed it marks a gap, whose length is capacity not used.
 *
 * Options: --sends 2000 --runs 3 --rate 100 --latency 100 --fail-rate 0.2 --scenarios clean,flaky
 *          --calls <dir> (each run's provider calls as the stand-in recorded them, for analysis)
 *          --json <file>
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStandIn } from '../scripts/startmessaging-stand-in.mjs';
import { createRun, deriveConfig, fmt, foreignLoad, median, migrate, parseArgs, request, sleep, snapshotProject, startDev, stateDir } from './lib/harness.mjs';

const options = parseArgs(process.argv.slice(2), {
  sends: 2000,
  runs: 3,
  rate: 100,
  latency: 100,
  failRate: 0.2,
  scenarios: 'clean,flaky',
  calls: '',
  json: '',
});
const TARGET_RATE_SHARE = 0.95;
const API_KEY = 'bench-key';

const run = createRun('dispatch', { overallTimeoutMs: 40 * 60_000 });

/** Requests whose SMS went out and whose row recorded it. */
const sentCount = (statuses) => (statuses.sent ?? 0) + (statuses.delivered ?? 0);

await run.main(async () => {
  const started = Date.now();
  const project = snapshotProject(run);
  const standIn = await startStandIn({ port: 0, host: '127.0.0.1', latencyMs: options.latency, rateLimit: options.rate, seed: 20261126 });
  run.closers.push(() => standIn.close());
  // The stand-in's fail rate is fixed at start; a second one serves the failing scenario.
  const flaky = await startStandIn({
    port: 0,
    host: '127.0.0.1',
    latencyMs: options.latency,
    rateLimit: options.rate,
    failRate: options.failRate,
    seed: 20261127,
  });
  run.closers.push(() => flaky.close());

  const config = deriveConfig(project, { file: 'wrangler.bench-dispatch.toml', main: 'bench/workers/instrumented/index.js' });
  const batchSize = Number(/queue = "otp-send"\n(?:#.*\n)*max_batch_size = (\d+)/.exec(readFileSync(join(project, 'wrangler.toml'), 'utf8'))?.[1]);
  if (!batchSize) throw new Error('could not find the otp-send consumer batch size in wrangler.toml');
  const scenarios = [
    { name: 'clean', label: 'clean', standIn, failRate: 0, config },
    { name: `${Math.round(options.failRate * 100)}% 500s`, label: 'flaky', standIn: flaky, failRate: options.failRate, config },
  ].filter((scenario) => options.scenarios.split(',').includes(scenario.label));
  console.log(
    `Dispatch path: ${options.sends} queued sends, provider latency ${options.latency} ms, account limit ${options.rate}/s, PROVIDER_RATE_PER_SECOND=${options.rate}, max_batch_size ${batchSize}, ${options.runs} runs per scenario`,
  );

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
        PROVIDER_ORDER: 'startmessaging',
        SM_BASE_URL: scenario.standIn.url,
        SM_API_KEY: API_KEY,
        OTP_SECRET: 'bench-otp-secret-not-for-production',
        PROVIDER_RATE_PER_SECOND: String(options.rate),
        // No delivery reports: each accepted SMS would schedule a status check 30 s later, and
        // those take provider slots from the pacer too (the stand-in does not count them), so a
        // run would share the account limit with the checks of the run before it.
        DELIVERY_CHECK_MAX: '0',
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

      // Drained when every request row reads `sent` (or `delivered`, should a report have come); bounded in time.
      const deadline = Date.now() + (scenario.failRate ? 240_000 : 150_000);
      let statuses = {};
      let drainedAt = null;
      for (let i = 0; i < 5000 && Date.now() < deadline; i += 1) {
        statuses = (await request('GET', `${dev.base}/__bench/statuses?since=${seededAt}`)).json ?? {};
        if (sentCount(statuses) >= options.sends) {
          drainedAt = Date.now();
          break;
        }
        await sleep(200);
      }
      const { foreign } = load.end();
      await sleep(500);

      const calls = scenario.standIn.calls();
      if (options.calls) {
        mkdirSync(options.calls, { recursive: true });
        const file = join(options.calls, `${scenario.label}-${runIndex + 1}.json`);
        writeFileSync(file, JSON.stringify(calls.map(({ seq, at, status, idempotencyKey }) => ({ seq, at, status, idempotencyKey }))));
      }
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
      // Where the provider sat idle although the pacer's rule had room (see the header).
      const interval = 1000 / options.rate;
      const minGap = interval / 1.25;
      let idleMs = 0;
      const gapList = [];
      for (let i = 1; i < times.length; i += 1) {
        const allowedAt = Math.max(times[i - 1] + minGap, i >= options.rate ? times[i - options.rate] + 1000 : -Infinity);
        const late = times[i] - allowedAt;
        if (late > 3 * interval) {
          idleMs += late;
          gapList.push({ call: i, afterFirstMs: times[i] - times[0], idleMs: late });
        }
      }
      const gaps = gapList.length;
      // Headroom against the stand-in's limit: the fewest tokens a bucket of `rate` (refilled at
      // `rate`/s, full at the first call) held as a call arrived; below 1 that call drew a 429.
      let tokens = options.rate;
      let bucketLow = options.rate;
      for (let i = 0; i < times.length; i += 1) {
        if (i > 0) tokens = Math.min(options.rate, tokens + ((times[i] - times[i - 1]) / 1000) * options.rate);
        bucketLow = Math.min(bucketLow, tokens);
        tokens -= 1;
      }
      const bigGaps = [...gapList].sort((a, b) => b.idleMs - a.idleMs).slice(0, 5);
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
        bucketLow,
        // A request with two SMS, seen by key or by phone (each phone asked once).
        duplicates: Math.max(duplicateKeys, duplicatePhones, stats.duplicates),
        // A request that never got its SMS, or whose row never reached `sent`.
        lost: Math.max(lost, options.sends - sentCount(statuses)),
        statuses,
        idleGaps: gaps,
        idleSeconds: idleMs / 1000,
        largestGaps: bigGaps,
        // The rate while calls were flowing: how exact the pacing is, apart from the gaps.
        busyRate: (times.length - 1) / (spanSeconds - idleMs / 1000),
        foreignCpuShare: foreign,
      };
      results.push(row);
      console.log(
        `  ${scenario.name} run ${row.run}: drained in ${row.drainSeconds === null ? 'did not drain' : `${fmt(row.drainSeconds)} s`}, ${row.providerCalls} calls at ${fmt(row.callRate)}/s (${fmt(row.rateShare * 100)}% of ${options.rate}/s), 429s ${row.rateLimited}, 500s ${row.failed500}, duplicates ${row.duplicates}, lost ${row.lost}; peak ${row.peakRps} calls in a second, bucket never below ${fmt(row.bucketLow, 0)} tokens; provider idle ${fmt(row.idleSeconds)} s in ${row.idleGaps} gaps`,
      );
      if (bigGaps.length) {
        console.log(
          `    largest gaps: ${bigGaps.map((gap) => `${fmt(gap.idleMs, 0)} ms before call ${gap.call} (at ${fmt(gap.afterFirstMs / 1000)} s)`).join(', ')}`,
        );
      }
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
      peakRps: Math.max(...rows.map((row) => row.peakRps)),
      bucketLow: Math.min(...rows.map((row) => row.bucketLow)),
      allDrained: rows.every((row) => row.drainSeconds !== null),
      foreignCpuShare: median(rows.map((row) => row.foreignCpuShare)),
    };
  });

  console.log('');
  console.log('| scenario | time to drain | provider calls | achieved rate | share of limit | 429s | 500s | duplicates | lost | idle gaps |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of summary) {
    console.log(
      `| ${row.scenario} | ${fmt(row.drainSeconds)} s | ${fmt(row.providerCalls, 0)} | ${fmt(row.callRate)}/s | ${fmt(row.rateShare * 100)}% | ${row.rateLimited} | ${fmt(row.failed500, 0)} | ${row.duplicates} | ${row.lost} | ${fmt(row.idleSeconds)} s in ${fmt(row.idleGaps, 0)} |`,
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
