#!/usr/bin/env node
/**
 * Soak test of mixed traffic against `wrangler dev` and the StartMessaging stand-in: `npm run soak`.
 *
 *   npm run soak                          # ramp to find the concurrency, then 70 s of traffic
 *   npm run soak -- --duration 120        # a longer soak
 *   npm run soak -- --concurrency 8       # skip the ramp, soak at 8 concurrent clients
 *
 * The stand-in runs as its own process (40 ms latency + up to 20 ms jitter, 10% of calls answer
 * 500, seeded); wrangler dev runs PROVIDER_MODE=startmessaging against it. Traffic is closed-loop:
 * N clients each send one request at a time, drawn from this mix:
 *   send    30%  POST /v1/otp, a new number each time (+1555…, +4477…, +9198…: 30 destination
 *                prefixes), a new CF-Connecting-IP each time, an Idempotency-Key on half of them
 *   replay   2%  the same POST again with a key already used: must answer the same requestId
 *   poll    35%  GET /v1/otp/:id of a request not yet final (any request when none is pending)
 *   verify  15%  POST /v1/otp/:id/verify of a sent request, with the code read from the
 *                stand-in's /__calls: right 85% of the time (200), wrong otherwise (400)
 *   admin    8%  GET /v1/admin/prefix-blocks with the bearer token
 *   bad     10%  malformed input of nine kinds, each with the 4xx and error shape it must get
 *
 * Twenty sends come first, so that polls have something to read whatever the mix.
 * Finding the rate: after 4 s of unmeasured warm-up, a ramp of 8 s steps at 1, 2, 4, 8, 16, 32
 * clients. A step is healthy when it had no 5xx, no transport error and a p99 at most 4x the
 * single client's (and at most 2 s): past that, more clients mostly queue and add latency. The
 * soak runs at the healthy step with the highest throughput.
 *
 * After the soak, traffic stops and every request sent during the run is polled until it shows a
 * final status (drain, at most 90 s): any that does not is lost.
 *
 * Memory: the RSS of the two workerd processes under wrangler dev (found by walking the process
 * tree in /proc): the runtime (the Worker with its local D1, queues and Durable Objects) and
 * wrangler's own dev proxy, every 3 s. Under load both climb for minutes before they level off
 * (wrangler dev keeps memory per request served even for a no-op Worker, and every new limiter
 * object and D1 row adds some), so the soak is preceded by a warm-up at the chosen concurrency
 * that lasts until the runtime's RSS is stable: the mean of its last 30 s at most 2% above the
 * mean of the 30 s before, after at least 60 s, at most SOAK_WARMUP_MAX_SECONDS (360). Memory is
 * judged flat when the runtime's mean RSS over the last third of the soak is at most 15% above
 * its mean over the first third. The dev proxy's series is printed too, not judged: it runs only
 * wrangler's code.
 *
 * Exits 1 when any of these fails: zero 5xx; zero transport errors and zero unexpected statuses in
 * the soak phase; zero lost requests; zero duplicate SMS at the stand-in and exactly one SMS per
 * request that reached `sent`; replays answered with the original requestId; memory flat as above.
 * Environment: SOAK_SECONDS (70), SOAK_CONCURRENCY (skip the ramp), SOAK_RAMP ("1,2,4,8,16,32"),
 * SOAK_STEP_SECONDS (8), SOAK_WARMUP_MAX_SECONDS (360), SOAK_MIX ("send:30,replay:2,poll:35,verify:15,admin:8,bad:10"),
 * SOAK_IDLE_SECONDS (0; sample memory with no traffic after the drain), SOAK_JSON=<file> (also
 * write the results as JSON), E2E_KEEP_TMP=1.
 *
 * This file runs the phases; scripts/soak/ holds one module per job: settings (flags, environment,
 * the Worker's vars), ledger (what the soak saw), operations (the six kinds of call), drive
 * (closed-loop clients, the ramp), memory (sampling, the warm-up), stand-in (codes and SMS at the
 * provider), report (tables and criteria), format.
 */
import { sleep } from './lib/async.mjs';
import { createDevStack } from './lib/dev-stack.mjs';
import { bailOnFatal } from './lib/processes.mjs';
import { startStandInProcess } from './lib/stand-in-process.mjs';
import { drive, rampUp } from './soak/drive.mjs';
import { fmt } from './soak/format.mjs';
import { ledger, summarize } from './soak/ledger.mjs';
import { startMemorySampler, warmUpUntilStable } from './soak/memory.mjs';
import { drainPoll, opSend } from './soak/operations.mjs';
import { judge, outcomeOfRequests, printTraffic } from './soak/report.mjs';
import { DRAIN_SECONDS, FIXED_CONCURRENCY, IDLE_SECONDS, OVERALL_TIMEOUT_MS, SOAK_SECONDS, VARS } from './soak/settings.mjs';
import { providerView, startCodeReader } from './soak/stand-in.mjs';

// ---------------------------------------------------------------------------------------------
// Processes, stopped whatever happens

const state = { stack: null, standIn: null, memoryTimer: null, codeTimer: null };
let exiting = false;

async function cleanup() {
  clearInterval(state.memoryTimer);
  clearInterval(state.codeTimer);
  await Promise.allSettled([state.stack?.stop(), state.standIn?.stop()]);
}

async function bail(message, code = 1) {
  if (exiting) return;
  exiting = true;
  console.error(message);
  for (const line of state.stack?.logTail(40) ?? []) console.error(line);
  await cleanup();
  console.log('soak: FAILED');
  process.exit(code);
}

const overallTimer = bailOnFatal(bail, { overallTimeoutMs: OVERALL_TIMEOUT_MS });

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  const started = Date.now();
  state.standIn = await startStandInProcess(['--latency-ms', '40', '--latency-jitter-ms', '20', '--fail-rate', '0.1', '--seed', '7']);
  const standInUrl = state.standIn.url;
  state.stack = createDevStack({ label: 'otpd-soak', vars: [...VARS, `SM_BASE_URL:${standInUrl}`], keepTmp: process.env.E2E_KEEP_TMP === '1' });
  const stack = state.stack;
  const health = await stack.start();
  if (health?.providerMode !== 'startmessaging') throw new Error(`providerMode is ${health?.providerMode}`);
  const base = stack.base;
  console.log(`stand-in ${standInUrl} (40+0..20 ms, 10% 500s); wrangler dev ${base}, healthy after ${fmt((Date.now() - started) / 1000)} s`);

  // Codes, as the stand-in received them: what a user would read off the SMS.
  const codeReader = startCodeReader(standInUrl);
  state.codeTimer = codeReader.timer;

  const memory = [];
  const sampler = startMemorySampler(
    stack,
    memory,
    () => ledger.phase,
    () => ledger.samples.length,
  );
  state.memoryTimer = sampler.timer;
  await sampler.sample();

  // A few requests to poll from the start, whatever the mix.
  ledger.phase = 'seed';
  for (let i = 0; i < 20; i += 1) await opSend(base);

  // 1. Ramp
  let concurrency = FIXED_CONCURRENCY;
  let ramp = [];
  if (concurrency === null) ({ ramp, concurrency } = await rampUp(base));

  // 2. Warm-up until the runtime's memory is stable, so that warming up is not judged as growth.
  const stableAfter = await warmUpUntilStable(base, concurrency, memory);

  // 3. Soak
  const soakStartedAt = Date.now();
  console.log(`soak: ${concurrency} clients for ${SOAK_SECONDS} s ...`);
  const progress = setInterval(() => {
    const done = ledger.samples.filter((sample) => sample.phase === 'soak').length;
    const mem = memory.at(-1);
    console.log(
      `  t+${fmt((Date.now() - soakStartedAt) / 1000, 0)} s: ${done} calls, ${ledger.pending.length} pending, workerd runtime ${fmt(mem?.runtimeMb)} MB, dev proxy ${fmt(mem?.proxyMb)} MB`,
    );
  }, 10_000);
  const soakSeconds = await drive(base, concurrency, SOAK_SECONDS, 'soak');
  clearInterval(progress);
  const soak = summarize('soak', soakSeconds);

  // 4. Drain: poll every request not yet final until it is, or until the drain time is up.
  ledger.phase = 'drain';
  const drainStartedAt = Date.now();
  for (let round = 0; round < DRAIN_SECONDS * 2 && ledger.pending.length > 0 && Date.now() - drainStartedAt < DRAIN_SECONDS * 1000; round += 1) {
    const batch = [...ledger.pending];
    for (let i = 0; i < batch.length; i += 16) await Promise.all(batch.slice(i, i + 16).map((id) => drainPoll(base, id)));
    if (ledger.pending.length > 0) await sleep(500);
  }
  const drainSeconds = (Date.now() - drainStartedAt) / 1000;
  if (IDLE_SECONDS > 0) {
    // No traffic at all: does the runtime give memory back once idle objects are evicted?
    ledger.phase = 'idle';
    await sleep(IDLE_SECONDS * 1000);
  }
  clearInterval(state.memoryTimer);
  await codeReader.fetchCodes();
  const stopped = stack.stop();

  // 5. The stand-in's view: SMS per key.
  const provider = await providerView(standInUrl);
  const outcome = outcomeOfRequests(provider);

  // 6. Report
  const traffic = printTraffic({ ramp, concurrency, soak, soakSeconds, outcome, stats: provider.stats, drainSeconds });
  await stopped;
  return judge({ ramp, concurrency, soak, outcome, stats: provider.stats, memory, stableAfter, traffic });
}

let passed = false;
try {
  passed = await main();
} catch (error) {
  console.error(`error: ${error?.stack ?? error}`);
  for (const line of state.stack?.logTail(40) ?? []) console.error(line);
}
if (!exiting) {
  exiting = true;
  await cleanup();
  clearTimeout(overallTimer);
  console.log(`soak: ${passed ? 'passed' : 'FAILED'}`);
  process.exit(passed ? 0 : 1);
}
