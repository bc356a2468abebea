#!/usr/bin/env node
/**
 * End-to-end fault scenarios: `npm run e2e:faults`.
 *
 * Starts the StartMessaging stand-in with a script per phone number (500s, 429 with and without
 * Retry-After, hangs, answers lost after the SMS went out, 400/401/402/409, malformed 2xx bodies,
 * Retry-After past the code's expiry) and `wrangler dev` in PROVIDER_MODE=startmessaging pointed
 * at it, with a short code lifetime (OTP_TTL_SECONDS=45) and a short provider timeout. Every
 * scenario's requests are submitted at once, polled until each shows a final status, and then
 * audited twice:
 *   - from the API (GET /v1/otp/:id): the final status and lastError.code the scenario expects,
 *     reached while the code was still valid (so written by the consumer, not inferred at read
 *     time), and `attempts` equal to the provider calls made;
 *   - from the stand-in's call log: the expected number of calls and of new SMS (never more than
 *     one per idempotency key), the same key (otpd-<requestId>, body and header) and the same code
 *     on every call, no call at or after the code's expiry, and none after the final status.
 * Retry-After floors are checked from the gaps between calls. The log is read only after every
 * code has expired, so a late call would be seen.
 *
 * wrangler dev runs no cron triggers, so the sweeper plays no part there: every final state of
 * those scenarios is reached by the queue consumer alone.
 *
 * Then, on a second wrangler dev (OTP_TTL_SECONDS=120) and a stand-in in a process of its own that
 * allows 20 calls per second (a token bucket; status checks draw on it too, as at the provider):
 *   - pacing: bursts of 100 sends to distinct numbers fired at once (E2E_FAULTS_BURSTS, 3), each
 *     drained; the provider must answer no 429 and no second of its log, rolling, may hold more
 *     than 20 calls (sends and status checks);
 *   - crash recovery: three requests sent (their status checks due 30 s later), two inside a
 *     provider call that took the SMS and holds its answer, five accepted and still in the queue;
 *     then wrangler dev and its runtime are killed with SIGKILL and started again on the same
 *     state (the local queue loses its messages), time passes until every lost piece is overdue,
 *     and the cron is run once (/cdn-cgi/local/scheduled). Every request must then be sent with
 *     exactly one SMS (the two mid-call ones called again with their key: the provider answers
 *     with the original), and every sent SMS, the bursts' included, must get its delivery report.
 *
 * Environment: E2E_FAULTS_REQUESTS (3 per scenario), E2E_FAULTS_BURSTS (3), E2E_FAULTS_PARTS
 * (`faults,paced`: which of the two parts to run), E2E_KEEP_TMP=1 (keep
 * the temporary directories and the wrangler logs), E2E_FAULTS_JSON=<file> (also write the fault
 * scenarios' results as JSON).
 * Prints a table and `e2e-faults: N passed, M failed`; exit status 1 on any failure.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mapLimit, sleep } from './lib/async.mjs';
import { createDevStack } from './lib/dev-stack.mjs';
import { intEnv } from './lib/env.mjs';
import { http } from './lib/http.mjs';
import { DEV_APP_AUTH } from './lib/local-dev-secrets.mjs';
import { bailOnFatal } from './lib/processes.mjs';
import { startStandInProcess } from './lib/stand-in-process.mjs';
import { mostInOneSecond, percentile } from './lib/stats.mjs';
import { startStandIn } from './startmessaging-stand-in.mjs';

const PER_SCENARIO = intEnv('E2E_FAULTS_REQUESTS', 3, 1, 20);
const TTL_SECONDS = 45;
const SM_TIMEOUT_MS = 1500;
const MAX_ATTEMPTS = 5;
const LATENCY_MS = 30;
const OTP_LENGTH = 6;
const API_KEY = 'e2e-faults-key';
const POLL_INTERVAL_MS = 500;
const OVERALL_TIMEOUT_MS = 10 * 60_000;
const FINAL = new Set(['sent', 'delivered', 'failed', 'expired', 'verified', 'superseded']);

const VARS = [
  'PROVIDER_MODE:startmessaging',
  // The development config routes between two sandbox providers; here StartMessaging alone.
  'PROVIDER_ORDER:startmessaging',
  `SM_API_KEY:${API_KEY}`,
  'OTP_SECRET:e2e-faults-otp-secret',
  `SM_TIMEOUT_MS:${SM_TIMEOUT_MS}`,
  `OTP_TTL_SECONDS:${TTL_SECONDS}`,
  'SEND_RETRY_BASE_SECONDS:1',
  'SEND_RETRY_MAX_SECONDS:4',
  `SEND_MAX_ATTEMPTS:${MAX_ATTEMPTS}`,
  // Scripted traffic is many numbers of one prefix from one client in a second: relax the
  // per-IP and per-prefix limits and the pumping defence, which are not under test here.
  'IP_LIMITS:10000/60',
  'PREFIX_LIMITS:10000/60',
  'SEQUENTIAL_BURST_NUMBERS:1000',
  'PUMPING_MIN_SENDS:100000',
];

/**
 * One scenario per provider behaviour. `calls` is the provider calls each request should make
 * (a number, or [min, max] where the worker's jitter decides), `sms` the new SMS it should cause,
 * `gapMs` the least time between its first and second call (a Retry-After floor or a timeout).
 */
const SCENARIOS = [
  { name: '500, 500, then ok', script: ['500', '500', 'ok'], status: 'sent', error: null, calls: 3, sms: 1 },
  { name: '503 with Retry-After: 2, then ok', script: ['503:2', 'ok'], status: 'sent', error: null, calls: 2, sms: 1, gapMs: 2000 },
  { name: '429 with Retry-After: 3, then ok', script: ['429:3', 'ok'], status: 'sent', error: null, calls: 2, sms: 1, gapMs: 3000 },
  { name: '429 without Retry-After, then ok', script: ['429', 'ok'], status: 'sent', error: null, calls: 2, sms: 1, gapMs: 1000 },
  { name: 'hang (client timeout), then ok', script: ['hang', 'ok'], status: 'sent', error: null, calls: 2, sms: 1, gapMs: SM_TIMEOUT_MS },
  { name: 'hang after send (answer lost), then ok', script: ['hang-after-send', 'ok'], status: 'sent', error: null, calls: 2, sms: 1, gapMs: SM_TIMEOUT_MS },
  { name: '201 with an HTML body, then ok', script: ['malformed', 'ok'], status: 'sent', error: null, calls: 2, sms: 1 },
  { name: '201 with truncated JSON, then ok', script: ['truncated', 'ok'], status: 'sent', error: null, calls: 2, sms: 1 },
  { name: '201 with JSON of no known shape, then ok', script: ['wrong-shape', 'ok'], status: 'sent', error: null, calls: 2, sms: 1 },
  { name: '400', script: ['400'], status: 'failed', error: 'provider_rejected_request', calls: 1, sms: 0 },
  { name: '401', script: ['401'], status: 'failed', error: 'provider_unauthorized', calls: 1, sms: 0 },
  { name: '402', script: ['402'], status: 'failed', error: 'provider_insufficient_balance', calls: 1, sms: 0 },
  { name: '409', script: ['409'], status: 'failed', error: 'provider_idempotency_conflict', calls: 1, sms: 0 },
  { name: '500 on every call', script: ['500'], status: 'failed', error: 'retries_exhausted', calls: MAX_ATTEMPTS, sms: 0 },
  { name: 'hang on every call', script: ['hang'], status: 'failed', error: 'retries_exhausted', calls: MAX_ATTEMPTS, sms: 0 },
  {
    name: 'hang after send on every call',
    script: ['hang-after-send'],
    status: 'failed',
    error: 'retries_exhausted',
    calls: MAX_ATTEMPTS,
    sms: 1,
    note: 'the SMS went out on the first call; no answer ever confirmed it',
  },
  { name: '429 with Retry-After: 60 (past expiry)', script: ['429:60'], status: 'expired', error: 'expired_before_delivery', calls: 1, sms: 0 },
  {
    name: '429 with Retry-After: 15 on every call',
    script: ['429:15'],
    status: 'expired',
    error: 'expired_before_delivery',
    calls: [2, 3],
    sms: 0,
    gapMs: 15_000,
    note: 'retries stop when the next would land after expiry',
  },
  {
    name: '503 with Retry-After: 30, then ok',
    script: ['503:30', 'ok'],
    status: 'sent',
    error: null,
    calls: 2,
    sms: 1,
    gapMs: 30_000,
    note: 'a long Retry-After that still fits the lifetime is honoured, and the code sent in time',
  },
];

// Washington DC numbers (the stand-in sends nothing); scenario s, request r gets +1202 sss rrrr, sss from 201.
const phoneFor = (scenarioIndex, requestIndex) => `+1202${String(scenarioIndex + 201)}${String(requestIndex).padStart(4, '0')}`;

const state = { standIn: null, stack: null, pacedStandIn: null, pacedStack: null };
let exiting = false;

async function cleanup() {
  await state.stack?.stop().catch(() => {});
  await state.standIn?.close().catch(() => {});
  await state.pacedStack?.stop().catch(() => {});
  await state.pacedStandIn?.stop().catch(() => {});
}

async function bail(message, code = 1) {
  if (exiting) return;
  exiting = true;
  console.error(message);
  for (const line of (state.pacedStack ?? state.stack)?.logTail() ?? []) console.error(line);
  await cleanup();
  console.log('e2e-faults: 0 passed, 1 failed');
  process.exit(code);
}

const overallTimer = bailOnFatal(bail, { overallTimeoutMs: OVERALL_TIMEOUT_MS });

const seconds = (ms) => (ms / 1000).toFixed(1);

/** Every way one request's record disagrees with its scenario; empty when it passes. */
function audit(scenario, request, calls) {
  const problems = [];
  const { view, observedAt } = request;
  const expiresAt = Date.parse(request.expiresAt);
  const key = `otpd-${request.requestId}`;
  if (!view) return ['no final status observed'];
  if (view.status !== scenario.status) problems.push(`status ${view.status}, expected ${scenario.status}`);
  const code = view.lastError?.code ?? null;
  if (code !== scenario.error) problems.push(`lastError ${code ?? 'none'}, expected ${scenario.error ?? 'none'}`);
  if (observedAt >= expiresAt) problems.push('final status first seen only after expiry (inferred at read time)');

  const [min, max] = Array.isArray(scenario.calls) ? scenario.calls : [scenario.calls, scenario.calls];
  if (calls.length < min || calls.length > max) problems.push(`${calls.length} provider calls, expected ${min === max ? min : `${min}-${max}`}`);
  if (view.attempts !== calls.length) problems.push(`attempts ${view.attempts} but the provider saw ${calls.length} calls`);
  const newSms = calls.filter((call) => call.newSms).length;
  if (newSms !== scenario.sms) problems.push(`${newSms} SMS, expected ${scenario.sms}`);
  if (calls.some((call) => call.bodyIdempotencyKey !== key || call.headerIdempotencyKey !== key)) problems.push('a call carried another idempotency key');
  if (new Set(calls.map((call) => call.otp)).size > 1) problems.push('the code changed between calls');
  if (calls.some((call) => !new RegExp(`^\\d{${OTP_LENGTH}}$`).test(call.otp ?? ''))) problems.push('a call without a valid code');
  if (calls.some((call) => call.phoneNumber !== request.phoneNumber)) problems.push('a call to another number');
  const late = calls.filter((call) => call.at >= expiresAt);
  if (late.length) problems.push(`${late.length} call(s) at or after expiry`);
  const afterFinal = calls.filter((call) => call.at > observedAt);
  if (afterFinal.length) problems.push(`${afterFinal.length} call(s) after the final status`);
  if (scenario.gapMs && calls.length >= 2) {
    // The floor is counted from the end of the first call; arrival times are a few ms apart from it.
    const gap = calls[1].at - calls[0].at;
    if (gap < scenario.gapMs - 50) problems.push(`second call ${gap} ms after the first, expected at least ${scenario.gapMs}`);
  }
  return problems;
}

/** The provider-fault scenarios; returns one { name, problems } per scenario and global check. */
async function faultScenarios() {
  const started = Date.now();
  const script = {};
  SCENARIOS.forEach((scenario, s) => {
    for (let r = 0; r < PER_SCENARIO; r += 1) script[phoneFor(s, r)] = scenario.script;
  });
  state.standIn = await startStandIn({ port: 0, host: '127.0.0.1', latencyMs: LATENCY_MS, latencyJitterMs: 10, script });
  const standIn = state.standIn;
  state.stack = createDevStack({ label: 'otpd-e2e-faults', vars: [...VARS, `SM_BASE_URL:${standIn.url}`], keepTmp: process.env.E2E_KEEP_TMP === '1' });
  const stack = state.stack;
  console.log(`stand-in ${standIn.url}; wrangler dev in ${stack.tmp}`);
  const health = await stack.start();
  if (health?.providerMode !== 'startmessaging') throw new Error(`providerMode is ${health?.providerMode}, expected startmessaging`);
  console.log(
    `wrangler dev ${stack.base} healthy after ${seconds(Date.now() - started)} s; ${SCENARIOS.length} scenarios x ${PER_SCENARIO} requests, OTP_TTL_SECONDS=${TTL_SECONDS}`,
  );

  // Submit every request at once: scenarios run side by side, as faults would in production.
  const requests = SCENARIOS.flatMap((_scenario, s) => Array.from({ length: PER_SCENARIO }, (_, r) => ({ scenario: s, phoneNumber: phoneFor(s, r) })));
  const apiErrors = [];
  await mapLimit(requests, 8, async (request) => {
    const answer = await http('POST', `${stack.base}/v1/otp`, { body: { phoneNumber: request.phoneNumber }, headers: DEV_APP_AUTH });
    if (answer.status !== 202) throw new Error(`POST /v1/otp for ${request.phoneNumber}: ${answer.status} ${answer.text.slice(0, 200)}`);
    Object.assign(request, { requestId: answer.json.requestId, expiresAt: answer.json.expiresAt, submittedAt: Date.now() });
  });

  // Poll each request until it first shows a final status; that first view is the one audited.
  const lastExpiry = Math.max(...requests.map((request) => Date.parse(request.expiresAt)));
  const pollDeadline = lastExpiry + 20_000;
  let lastReport = 0;
  for (let round = 0; round < 2000 && Date.now() < pollDeadline; round += 1) {
    const pending = requests.filter((request) => !request.view);
    if (pending.length === 0) break;
    if (stack.exit !== null) throw new Error(`wrangler dev exited (${stack.exit})`);
    await mapLimit(pending, 8, async (request) => {
      try {
        const answer = await http('GET', `${stack.base}/v1/otp/${request.requestId}`, { headers: DEV_APP_AUTH });
        if (answer.status >= 500) apiErrors.push(`GET ${answer.status}`);
        if (answer.status === 200 && FINAL.has(answer.json?.status)) Object.assign(request, { view: answer.json, observedAt: Date.now() });
      } catch (error) {
        apiErrors.push(`GET ${error?.name ?? error}`);
      }
    });
    if (Date.now() - lastReport > 5000) {
      lastReport = Date.now();
      console.log(
        `  t+${seconds(Date.now() - requests[0].submittedAt)} s: ${requests.filter((r) => r.view).length}/${requests.length} final, ${standIn.stats().calls} provider calls`,
      );
    }
    await sleep(POLL_INTERVAL_MS);
  }
  const finalAt = Date.now();

  // Read the call log only once every code has expired, so any late call would be in it.
  const waitMs = lastExpiry + 3000 - Date.now();
  if (waitMs > 0) {
    console.log(
      `  all final after ${seconds(finalAt - requests[0].submittedAt)} s; waiting ${seconds(waitMs)} s until every code has expired before reading the call log`,
    );
    await sleep(waitMs);
  }
  const calls = standIn.calls();
  const stats = standIn.stats();
  const callsByKey = new Map();
  for (const call of calls) callsByKey.set(call.idempotencyKey, [...(callsByKey.get(call.idempotencyKey) ?? []), call]);

  const results = SCENARIOS.map((scenario, s) => {
    const mine = requests.filter((request) => request.scenario === s);
    const audited = mine.map((request) => {
      const own = (callsByKey.get(`otpd-${request.requestId}`) ?? []).sort((a, b) => a.seq - b.seq);
      return { request, calls: own, problems: audit(scenario, request, own) };
    });
    const statuses = [...new Set(mine.map((r) => (r.view ? `${r.view.status}${r.view.lastError ? ` (${r.view.lastError.code})` : ''}` : 'none')))];
    const callCounts = [...new Set(audited.map((a) => a.calls.length))].sort((a, b) => a - b);
    const timesToFinal = mine
      .filter((r) => r.observedAt)
      .map((r) => r.observedAt - r.submittedAt)
      .sort((a, b) => a - b);
    const gaps = audited.filter((a) => a.calls.length >= 2).map((a) => a.calls[1].at - a.calls[0].at);
    return {
      name: scenario.name,
      script: scenario.script.join(','),
      expected: `${scenario.status}${scenario.error ? ` (${scenario.error})` : ''}`,
      observed: statuses.join(' / '),
      calls: callCounts.join('/'),
      sms: audited.reduce((sum, a) => sum + a.calls.filter((call) => call.newSms).length, 0),
      afterExpiry: audited.reduce((sum, a) => sum + a.calls.filter((call) => call.at >= Date.parse(a.request.expiresAt)).length, 0),
      secondsToFinal: timesToFinal.length ? seconds(timesToFinal[timesToFinal.length - 1]) : '-',
      firstGap: gaps.length ? seconds(Math.min(...gaps)) : '-',
      note: scenario.note ?? '',
      problems: audited.flatMap((a) => a.problems.map((problem) => `${a.request.requestId}: ${problem}`)),
    };
  });

  const knownKeys = new Set(requests.map((request) => `otpd-${request.requestId}`));
  const strays = calls.filter((call) => !knownKeys.has(call.idempotencyKey));
  const globals = [
    { name: 'API answered no 5xx and no transport error while polling', problems: apiErrors.slice(0, 5) },
    { name: 'every provider call belongs to a submitted request', problems: strays.slice(0, 5).map((call) => `stray key ${call.idempotencyKey}`) },
    { name: 'the stand-in saw no second SMS for any key', problems: stats.duplicates ? [`duplicates=${stats.duplicates}`] : [] },
    { name: 'the stand-in saw one phone number and one code per key', problems: stats.inconsistentKeys ? [`inconsistentKeys=${stats.inconsistentKeys}`] : [] },
  ];

  printTable(results, stats, requests.length, finalAt - requests[0].submittedAt, Date.now() - started);
  for (const check of globals)
    console.log(`${check.problems.length ? 'FAIL' : 'ok  '}  ${check.name}${check.problems.length ? `: ${check.problems.join('; ')}` : ''}`);
  for (const result of results) for (const problem of result.problems) console.log(`FAIL  ${result.name}: ${problem}`);
  if (process.env.E2E_FAULTS_JSON) writeFileSync(process.env.E2E_FAULTS_JSON, `${JSON.stringify({ results, globals, stats }, null, 2)}\n`);
  return [...results, ...globals];
}

// ---------------------------------------------------------------------------------------------
// Pacing and crash recovery

const PACED_RATE = 20;
const BURST = 100;
const BURSTS = intEnv('E2E_FAULTS_BURSTS', 3, 1, 10);
const RECOVERY_TTL_SECONDS = 120;
/** The default provider timeout: a call held by the provider stays in flight that long. */
const PACED_TIMEOUT_MS = 8000;
/** At these settings: the send lease (src/db/delivery-attempts.ts) and the sweeper's grace (src/cron/sweeper.ts). */
const LEASE_MS = 30_000;
const GRACE_MS = 1000 + 5750 + PACED_TIMEOUT_MS + 5000;
/** DELIVERY_CHECK_BASE_SECONDS (the default): the first status check's delay after a send. */
const FIRST_CHECK_MS = 30_000;
const MID_CALL_PHONES = ['+12029990001', '+12029990002'];
const SENT_PHONES = ['+12029980001', '+12029980002', '+12029980003'];
const QUEUED_PHONES = ['+12029970001', '+12029970002', '+12029970003', '+12029970004', '+12029970005'];

const ADMIN_TOKEN = `e2e-faults-admin-${randomUUID()}`;
const PACED_VARS = [
  'PROVIDER_MODE:startmessaging',
  // The development config routes between two sandbox providers; here StartMessaging alone.
  'PROVIDER_ORDER:startmessaging',
  `ADMIN_TOKEN:${ADMIN_TOKEN}`,
  `SM_API_KEY:${API_KEY}`,
  'OTP_SECRET:e2e-faults-otp-secret',
  `SM_TIMEOUT_MS:${PACED_TIMEOUT_MS}`,
  `OTP_TTL_SECONDS:${RECOVERY_TTL_SECONDS}`,
  `PROVIDER_RATE_PER_SECOND:${PACED_RATE}`,
  'IP_LIMITS:10000/60',
  'PREFIX_LIMITS:10000/60',
  'SEQUENTIAL_BURST_NUMBERS:1000',
  'PUMPING_MIN_SENDS:100000',
];

const burstPhone = (run, index) => `+1202${800 + run}${String(index).padStart(4, '0')}`;

async function submit(base, phones) {
  return mapLimit(phones, phones.length, async (phoneNumber) => {
    // A cold wrangler dev on a busy machine takes seconds to admit 100 at once (a limiter object per number).
    const answer = await http('POST', `${base}/v1/otp`, { body: { phoneNumber }, headers: DEV_APP_AUTH, timeoutMs: 60_000 });
    if (answer.status !== 202) throw new Error(`POST /v1/otp for ${phoneNumber}: ${answer.status} ${answer.text.slice(0, 200)}`);
    return { phoneNumber, requestId: answer.json.requestId, submittedAt: Date.now() };
  });
}

/**
 * Polls each request until `done(record)` holds for it; returns the records. A record is what
 * operators see (GET /v1/admin/requests/:id: the stored status, the delivery status, the attempts),
 * which apps do not: their view reads `expired` once the code's lifetime is over.
 */
async function waitForViews(stack, requests, done, timeoutMs, label) {
  const views = new Map();
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; round < 1000 && Date.now() < deadline; round += 1) {
    const pending = requests.filter((request) => !done(views.get(request.requestId)));
    if (pending.length === 0) return views;
    if (stack.exit !== null) throw new Error(`wrangler dev exited (${stack.exit}) while waiting: ${label}`);
    await mapLimit(pending, 4, async ({ requestId }) => {
      const answer = await http('GET', `${stack.base}/v1/admin/requests/${requestId}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } }).catch(
        () => null,
      );
      if (answer?.status === 200) views.set(requestId, { ...answer.json.request, attemptRows: answer.json.attempts, statusChecks: answer.json.statusChecks });
    });
    await sleep(500);
  }
  const stuck = requests.filter((request) => !done(views.get(request.requestId)));
  throw new Error(
    `${label}: ${stuck.length} not done after ${timeoutMs / 1000} s, e.g. ${stuck
      .slice(0, 3)
      .map((r) => `${r.requestId}=${views.get(r.requestId)?.status}`)
      .join(', ')}`,
  );
}

/**
 * Starts wrangler dev, once more if it exits first: the ports it is given are free when chosen,
 * and another process on a shared machine can take one before wrangler binds it.
 */
async function startWithRetry(stack, tries = 3) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await stack.start();
    } catch (error) {
      if (attempt === tries || !/exited/.test(String(error?.message))) throw error;
      console.log(`  wrangler dev exited before it was ready (${error.message}); starting it again`);
    }
  }
}

async function pacingAndRecovery() {
  const started = Date.now();
  const script = Object.fromEntries(MID_CALL_PHONES.map((phone) => [phone, ['hang-after-send', 'ok']]));
  state.pacedStandIn = await startStandInProcess([
    '--rate-limit',
    String(PACED_RATE),
    '--limit-status-checks',
    '--latency-ms',
    String(LATENCY_MS),
    '--latency-jitter-ms',
    '10',
    '--script',
    JSON.stringify(script),
  ]);
  const standIn = state.pacedStandIn;
  state.pacedStack = createDevStack({
    label: 'otpd-e2e-paced',
    vars: [...PACED_VARS, `SM_BASE_URL:${standIn.url}`],
    keepTmp: process.env.E2E_KEEP_TMP === '1',
  });
  const stack = state.pacedStack;
  await startWithRetry(stack);
  console.log(`\npacing and crash recovery: stand-in ${standIn.url} allowing ${PACED_RATE} calls/s; wrangler dev ${stack.base} (${stack.tmp})`);
  const checks = [];
  const check = (name, problems) => {
    checks.push({ name, problems });
    console.log(`${problems.length ? 'FAIL' : 'ok  '}  ${name}${problems.length ? `: ${problems.slice(0, 5).join('; ')}` : ''}`);
  };

  // Bursts: 100 sends at once, drained before the next. The previous bursts' status checks (30 s
  // after their sends) share the pacer with the later ones.
  const bursts = [];
  for (let run = 1; run <= BURSTS; run += 1) {
    const begun = Date.now();
    const requests = await submit(
      stack.base,
      Array.from({ length: BURST }, (_, index) => burstPhone(run, index)),
    );
    // Seconds at the provider; on a busy machine late calls take new times, and the earlier
    // bursts' status checks share the pacer.
    await waitForViews(stack, requests, (view) => FINAL.has(view?.status), 120_000, `burst ${run}`);
    bursts.push({ run, requests, seconds: (Date.now() - begun) / 1000 });
    console.log(`  burst ${run}: ${BURST} sends at once, all final after ${seconds(Date.now() - begun)} s`);
  }

  // The crash. Three requests sent: their first status checks wait in the queue.
  const sent = await submit(stack.base, SENT_PHONES);
  await waitForViews(stack, sent, (view) => view?.status === 'sent', 30_000, 'the sent group');
  // Two requests inside their provider call: the provider took the SMS and holds its answer.
  const midCall = await submit(stack.base, MID_CALL_PHONES);
  const keys = new Set(midCall.map((request) => `otpd-${request.requestId}`));
  for (let i = 0; i < 1000; i += 1) {
    const { calls } = await standIn.log();
    if (calls.filter((call) => keys.has(call.idempotencyKey)).length === keys.size) break;
    await sleep(20);
  }
  // Five accepted, their jobs still in the queue (it hands a batch over after 1 s): killed at once.
  const queued = await submit(stack.base, QUEUED_PHONES);
  await stack.kill();
  const killedAt = Date.now();
  const { calls: callsBeforeKill } = await standIn.log();
  console.log(`  killed wrangler dev and its runtime (SIGKILL) ${seconds(killedAt - queued[0].submittedAt)} s after the last five were accepted`);

  await startWithRetry(stack);
  console.log(`  restarted on the same state: ${stack.base}`);
  const crashed = [...sent, ...midCall, ...queued];
  const before = await waitForViews(stack, crashed, (view) => Boolean(view), 10_000, 'reading the crashed requests');
  // What each request was left in decides what recovering it takes. A busy machine may answer the
  // five so slowly that the queue hands some over before the kill: those were sent before it.
  const left = (requests, status) => requests.filter((request) => before.get(request.requestId)?.status === status).length;
  const setupProblems = [];
  if (left(sent, 'sent') !== sent.length) setupProblems.push(`sent group: ${sent.map((r) => before.get(r.requestId)?.status)}`);
  if (left(midCall, 'sending') !== midCall.length) setupProblems.push(`mid-call group: ${midCall.map((r) => before.get(r.requestId)?.status)}`);
  if (left(queued, 'queued') === 0) setupProblems.push(`queued group: ${queued.map((r) => before.get(r.requestId)?.status)}`);
  check(
    `the crash left ${left(sent, 'sent')} requests sent (status checks pending), ${left(midCall, 'sending')} sending (inside a provider call), ${left(queued, 'queued')} of 5 queued (jobs lost)`,
    setupProblems,
  );

  // Until the cron's run every lost piece must be overdue: the mid-call claims' leases, the
  // latest send's first status check, each by the sweeper's grace.
  const lastCallAt = Math.max(...callsBeforeKill.map((call) => call.at));
  const midCallAt = Math.max(...callsBeforeKill.filter((call) => keys.has(call.idempotencyKey)).map((call) => call.at));
  const cronAt = Math.max(midCallAt + LEASE_MS, lastCallAt + FIRST_CHECK_MS) + GRACE_MS + 3000;
  console.log(`  waiting ${seconds(cronAt - Date.now())} s until every lost piece is overdue, then running the cron once`);
  await sleep(Math.max(0, cronAt - Date.now() - 1000));
  const { calls: callsBeforeCron } = await standIn.log();
  const stillQueued = await waitForViews(stack, crashed, (view) => Boolean(view), 10_000, 'reading the crashed requests');
  check('nothing recovered before the cron ran (no call, no status change)', [
    ...(callsBeforeCron.length !== callsBeforeKill.length ? [`${callsBeforeCron.length - callsBeforeKill.length} send calls`] : []),
    ...crashed.filter((r) => stillQueued.get(r.requestId)?.status !== before.get(r.requestId)?.status).map((r) => `${r.requestId} moved`),
  ]);
  await sleep(Math.max(0, cronAt - Date.now()));
  const cron = await http('GET', `${stack.base}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`);
  check('the cron ran (GET /cdn-cgi/local/scheduled)', cron.status === 200 ? [] : [`answered ${cron.status}`]);
  const cronRanAt = Date.now();

  // The recovered sends are done once sent (their own first check comes 30 s later, as usual);
  // every SMS sent before the crash, once its delivery report says delivered.
  const allBurst = bursts.flatMap((burst) => burst.requests);
  const resent = new Set([...midCall, ...queued].map((request) => request.requestId));
  let records = new Map();
  const recovery = await waitForViews(
    stack,
    [...crashed, ...allBurst],
    (view) => (view && resent.has(view.requestId) ? view.status === 'sent' || view.status === 'delivered' : view?.deliveryStatus === 'delivered'),
    120_000,
    'recovery',
  ).then(
    (views) => {
      records = views;
      return null;
    },
    (error) => String(error.message),
  );
  const { calls, statusCalls } = await standIn.log();
  const stats = await standIn.stats();

  // Exactly one SMS for every request, called again only with its own key.
  const callsOf = (request) => calls.filter((call) => call.idempotencyKey === `otpd-${request.requestId}`);
  const smsProblems = [];
  for (const request of [...crashed, ...allBurst]) {
    const own = callsOf(request);
    const sms = own.filter((call) => call.newSms).length;
    // Sent before the crash: its one call. Otherwise one more than it had made by the crash.
    const atCrash = before.get(request.requestId);
    const expectedCalls = !atCrash || atCrash.status === 'sent' ? 1 : atCrash.attempts + 1;
    if (sms !== 1 || own.length !== expectedCalls)
      smsProblems.push(`${request.phoneNumber}: ${own.length} calls, ${sms} SMS (expected ${expectedCalls} calls, 1 SMS)`);
    if (new Set(own.map((call) => call.otp)).size > 1) smsProblems.push(`${request.phoneNumber}: the code changed`);
  }
  check('after one cron run every crashed request is sent exactly once (the mid-call ones called again with their key, answered with the original)', [
    ...(recovery ? [recovery] : []),
    ...smsProblems.filter((problem) => crashed.some((request) => problem.startsWith(request.phoneNumber))),
  ]);
  check(
    `every burst request was sent with one call and one SMS (${BURSTS} x ${BURST})`,
    smsProblems.filter((problem) => !crashed.some((request) => problem.startsWith(request.phoneNumber))),
  );
  const messageOf = (request) => callsOf(request).find((call) => call.status === 201)?.messageId;
  const checkedAfterCron = new Set(statusCalls.filter((call) => call.at >= cronRanAt).map((call) => call.messageId));
  const revived = allBurst.filter((request) => checkedAfterCron.has(messageOf(request))).length;
  check(
    `every SMS sent before the crash got its delivery report: all ${sent.length + allBurst.length} read delivered (${revived} of the bursts' checks came back with the cron)`,
    recovery ? [recovery] : [],
  );
  check(
    'the status checks of the sent group were lost with the runtime and ran only after the cron',
    sent
      .filter((request) => statusCalls.some((c) => c.at < cronRanAt && c.messageId === messageOf(request)))
      .map((r) => `${r.phoneNumber} was checked before the cron`),
  );

  // The provider's view of the rate: every call it received, sends and status checks alike.
  const arrivals = [...calls.map((call) => call.at), ...statusCalls.map((call) => call.at)];
  const peak = mostInOneSecond(arrivals);
  if (peak > PACED_RATE) printDensestSecond(calls, statusCalls, records);
  const rejected = calls.filter((call) => call.status === 429).length + statusCalls.filter((call) => call.status === 429).length;
  check(`the provider answered no 429 (${calls.length} sends, ${statusCalls.length} status checks)`, rejected ? [`${rejected} answered 429`] : []);
  // Arrival times at the stand-in add the transit of each call (event loops of two processes on a
  // shared machine), which can bunch calls the service started on their paced times; the service's
  // pace is judged by its recorded starts (below) and by the stand-in's own token bucket (no 429
  // above), as a provider enforces it. The arrival peak is printed for the reader.
  if (peak > PACED_RATE) console.log(`  note: ${peak} calls arrived within one rolling second (transit bunching; starts checked below)`);
  // And the service's own record of when each call started (delivery_attempts.started_at,
  // status_checks.checked_at).
  const startedAt = [...records.values()].flatMap((record) => [
    ...record.attemptRows.map((attempt) => Date.parse(attempt.startedAt)),
    ...record.statusChecks.map((statusCheck) => Date.parse(statusCheck.checkedAt)),
  ]);
  const recordedPeak = mostInOneSecond(startedAt);
  check(
    `no rolling second of the recorded call starts (sends and status checks) holds more than ${PACED_RATE} (most: ${recordedPeak} of ${startedAt.length})`,
    recordedPeak > PACED_RATE || startedAt.length < 2 * allBurst.length ? [`${recordedPeak} starts within one second, ${startedAt.length} read`] : [],
  );
  check('the provider saw no second SMS for any key', stats.duplicates ? [`duplicates=${stats.duplicates}`] : []);
  // How long a send took from its recorded start to the provider's log (one call per burst request).
  const transit = allBurst
    .map((request) => {
      const [call] = callsOf(request);
      const start = records.get(request.requestId)?.attemptRows?.[0]?.startedAt;
      return call && start ? call.at - Date.parse(start) : null;
    })
    .filter((ms) => ms !== null)
    .sort((a, b) => a - b);
  if (transit.length) {
    console.log(
      `  from recorded start to the provider's log: median ${percentile(transit, 50)} ms, p99 ${percentile(transit, 99)} ms, max ${transit.at(-1)} ms (${transit.length} sends)`,
    );
  }
  // How long each burst took at the provider: its first call to its last.
  const spans = bursts.map((burst) => {
    const times = burst.requests.flatMap((request) => callsOf(request).map((call) => call.at));
    return (Math.max(...times) - Math.min(...times)) / 1000;
  });
  console.log(
    `  bursts: first to last call ${spans.map((span) => `${span.toFixed(1)} s`).join(', ')} at the provider (${BURST} calls at ${PACED_RATE}/s fit in 5.75 s); ` +
      `polled final after ${bursts.map((burst) => `${burst.seconds.toFixed(1)} s`).join(', ')}; most calls in one rolling second ${peak}; ` +
      `recovered ${seconds(Date.now() - cronRanAt)} s after the cron; part total ${seconds(Date.now() - started)} s`,
  );
  return checks;
}

/** For a failed rate check: the calls of the densest second, with what the service recorded for them. */
function printDensestSecond(calls, statusCalls, records) {
  const all = [
    ...calls.map((call) => ({ at: call.at, what: `send ${call.idempotencyKey}` })),
    ...statusCalls.map((call) => ({ at: call.at, what: `check ${call.messageId}` })),
  ].sort((a, b) => a.at - b.at);
  let best = [0, 0];
  for (let i = 0, j = 0; i < all.length; i += 1) {
    while (j < all.length && all[j].at < all[i].at + 1000) j += 1;
    if (j - i > best[1] - best[0]) best = [i, j];
  }
  const starts = new Map();
  for (const record of records.values())
    for (const attempt of record.attemptRows ?? []) starts.set(`otpd-${record.requestId}#${attempt.attemptNumber}`, Date.parse(attempt.startedAt));
  const first = all[best[0]].at;
  console.log(`  the densest second at the provider (${best[1] - best[0]} calls), ms after its first call:`);
  for (const entry of all.slice(best[0], best[1])) {
    const start = starts.get(`${entry.what.slice(5)}#1`);
    console.log(`    +${entry.at - first} ${entry.what}${start ? ` (recorded start +${start - first})` : ''}`);
  }
}

function printTable(results, stats, requestCount, drainMs, totalMs) {
  const header = [
    '#',
    'scenario',
    'script',
    'final status (lastError)',
    'calls/req',
    'SMS (all reqs)',
    'calls after expiry',
    'call 1->2 s (min)',
    's to final (max)',
    'result',
  ];
  const rows = results.map((result, index) => [
    String(index + 1),
    result.name,
    result.script,
    result.observed,
    result.calls,
    String(result.sms),
    String(result.afterExpiry),
    result.firstGap,
    result.secondsToFinal,
    result.problems.length ? 'FAIL' : 'pass',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells) => `| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`;
  console.log('');
  console.log(line(header));
  console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
  console.log('');
  console.log(
    `${requestCount} requests (${PER_SCENARIO} per scenario), ${stats.calls} provider calls, ${stats.delivered} SMS, ` +
      `${stats.duplicates} duplicates; all final after ${seconds(drainMs)} s; total ${seconds(totalMs)} s`,
  );
}

async function main() {
  const parts = new Set((process.env.E2E_FAULTS_PARTS ?? 'faults,paced').split(',').map((part) => part.trim()));
  const faults = parts.has('faults') ? await faultScenarios() : [];
  // Each part on its own wrangler dev: free the first one's CPU and memory.
  await state.stack?.stop();
  await state.standIn?.close();
  state.stack = null;
  state.standIn = null;
  const paced = parts.has('paced') ? await pacingAndRecovery() : [];
  const outcomes = [...faults, ...paced].map((entry) => entry.problems.length === 0);
  return { passed: outcomes.filter(Boolean).length, failed: outcomes.filter((ok) => !ok).length };
}

let outcome = { passed: 0, failed: 1 };
try {
  outcome = await main();
} catch (error) {
  console.error(`error: ${error?.stack ?? error}`);
  for (const line of (state.pacedStack ?? state.stack)?.logTail() ?? []) console.error(line);
  outcome = { passed: outcome.passed, failed: 1 };
}
if (!exiting) {
  exiting = true;
  await cleanup();
  clearTimeout(overallTimer);
  console.log(`e2e-faults: ${outcome.passed} passed, ${outcome.failed} failed`);
  process.exit(outcome.failed ? 1 : 0);
}
