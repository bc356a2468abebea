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
 * wrangler dev runs no cron triggers, so the sweeper plays no part here: every final state below
 * is reached by the queue consumer alone.
 *
 * Environment: E2E_FAULTS_REQUESTS (3 per scenario), E2E_KEEP_TMP=1 (keep the temporary directory
 * and the wrangler log), E2E_FAULTS_JSON=<file> (also write the results as JSON).
 * Prints a table and `e2e-faults: N passed, M failed`; exit status 1 on any failure.
 */
import { writeFileSync } from 'node:fs';
import { startStandIn } from './startmessaging-stand-in.mjs';
import { mapLimit, sleep } from './lib/async.mjs';
import { createDevStack } from './lib/dev-stack.mjs';
import { intEnv } from './lib/env.mjs';
import { http } from './lib/http.mjs';
import { bailOnFatal } from './lib/processes.mjs';

const PER_SCENARIO = intEnv('E2E_FAULTS_REQUESTS', 3, 1, 20);
const TTL_SECONDS = 45;
const SM_TIMEOUT_MS = 1500;
const MAX_ATTEMPTS = 5;
const LATENCY_MS = 30;
const OTP_LENGTH = 6;
const API_KEY = 'e2e-faults-key';
const POLL_INTERVAL_MS = 500;
const OVERALL_TIMEOUT_MS = 6 * 60_000;
const FINAL = new Set(['sent', 'delivered', 'failed', 'expired', 'verified', 'superseded']);

const VARS = [
  'PROVIDER_MODE:startmessaging',
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

// +1 555 numbers are fictional; scenario s, request r gets +1555 sss rrrr.
const phoneFor = (scenarioIndex, requestIndex) => `+1555${String(scenarioIndex + 1).padStart(3, '0')}${String(requestIndex).padStart(4, '0')}`;

const state = { standIn: null, stack: null };
let exiting = false;

async function cleanup() {
  await state.stack?.stop().catch(() => {});
  await state.standIn?.close().catch(() => {});
}

async function bail(message, code = 1) {
  if (exiting) return;
  exiting = true;
  console.error(message);
  for (const line of state.stack?.logTail() ?? []) console.error(line);
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

async function main() {
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
  console.log(`wrangler dev ${stack.base} healthy after ${seconds(Date.now() - started)} s; ${SCENARIOS.length} scenarios x ${PER_SCENARIO} requests, OTP_TTL_SECONDS=${TTL_SECONDS}`);

  // Submit every request at once: scenarios run side by side, as faults would in production.
  const requests = SCENARIOS.flatMap((scenario, s) => Array.from({ length: PER_SCENARIO }, (_, r) => ({ scenario: s, phoneNumber: phoneFor(s, r) })));
  const apiErrors = [];
  await mapLimit(requests, 8, async (request) => {
    const answer = await http('POST', `${stack.base}/v1/otp`, { body: { phoneNumber: request.phoneNumber } });
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
        const answer = await http('GET', `${stack.base}/v1/otp/${request.requestId}`);
        if (answer.status >= 500) apiErrors.push(`GET ${answer.status}`);
        if (answer.status === 200 && FINAL.has(answer.json?.status)) Object.assign(request, { view: answer.json, observedAt: Date.now() });
      } catch (error) {
        apiErrors.push(`GET ${error?.name ?? error}`);
      }
    });
    if (Date.now() - lastReport > 5000) {
      lastReport = Date.now();
      console.log(`  t+${seconds(Date.now() - requests[0].submittedAt)} s: ${requests.filter((r) => r.view).length}/${requests.length} final, ${standIn.stats().calls} provider calls`);
    }
    await sleep(POLL_INTERVAL_MS);
  }
  const finalAt = Date.now();

  // Read the call log only once every code has expired, so any late call would be in it.
  const waitMs = lastExpiry + 3000 - Date.now();
  if (waitMs > 0) {
    console.log(`  all final after ${seconds(finalAt - requests[0].submittedAt)} s; waiting ${seconds(waitMs)} s until every code has expired before reading the call log`);
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
    const timesToFinal = mine.filter((r) => r.observedAt).map((r) => r.observedAt - r.submittedAt).sort((a, b) => a - b);
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
  for (const check of globals) console.log(`${check.problems.length ? 'FAIL' : 'ok  '}  ${check.name}${check.problems.length ? `: ${check.problems.join('; ')}` : ''}`);
  for (const result of results) for (const problem of result.problems) console.log(`FAIL  ${result.name}: ${problem}`);
  if (process.env.E2E_FAULTS_JSON) writeFileSync(process.env.E2E_FAULTS_JSON, `${JSON.stringify({ results, globals, stats }, null, 2)}\n`);
  const outcomes = [...results, ...globals].map((entry) => entry.problems.length === 0);
  return { passed: outcomes.filter(Boolean).length, failed: outcomes.filter((ok) => !ok).length };
}

function printTable(results, stats, requestCount, drainMs, totalMs) {
  const header = ['#', 'scenario', 'script', 'final status (lastError)', 'calls/req', 'SMS (all reqs)', 'calls after expiry', 'call 1->2 s (min)', 's to final (max)', 'result'];
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

let outcome = { passed: 0, failed: 1 };
try {
  outcome = await main();
} catch (error) {
  console.error(`error: ${error?.stack ?? error}`);
  for (const line of state.stack?.logTail() ?? []) console.error(line);
  outcome = { passed: outcome.passed, failed: 1 };
}
if (!exiting) {
  exiting = true;
  await cleanup();
  clearTimeout(overallTimer);
  console.log(`e2e-faults: ${outcome.passed} passed, ${outcome.failed} failed`);
  process.exit(outcome.failed ? 1 : 0);
}
