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
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from './lib/async.mjs';
import { createDevStack } from './lib/dev-stack.mjs';
import { intEnv } from './lib/env.mjs';
import { http } from './lib/http.mjs';
import { bailOnFatal, processArgs, processRssKb, processStat, processTree, stopChild } from './lib/processes.mjs';
import { percentile } from './lib/stats.mjs';
import { ROOT } from './lib/wrangler.mjs';

// Soak reports an empty sample as null (its tables print '-'), not NaN.
const percentileOrNull = (sorted, p) => percentile(sorted, p, null);

const args = parseArgs(process.argv.slice(2));
const SOAK_SECONDS = args.duration ?? intEnv('SOAK_SECONDS', 70, 10, 3600);
const FIXED_CONCURRENCY = args.concurrency ?? (process.env.SOAK_CONCURRENCY ? intEnv('SOAK_CONCURRENCY', 8, 1, 256) : null);
const RAMP = (process.env.SOAK_RAMP ?? '1,2,4,8,16,32').split(',').map(Number);
const STEP_SECONDS = intEnv('SOAK_STEP_SECONDS', 8, 2, 120);
const DRAIN_SECONDS = 90;
const MEMORY_EVERY_MS = 3000;
const MEMORY_GROWTH_LIMIT = 0.15;
const REQUEST_TIMEOUT_MS = 10_000;
const ADMIN_TOKEN = `soak-admin-${randomUUID()}`;
const API_KEY = 'soak-key';
const OVERALL_TIMEOUT_MS = (SOAK_SECONDS + DRAIN_SECONDS + RAMP.length * STEP_SECONDS + 240) * 1000;
const FINAL = new Set(['sent', 'delivered', 'failed', 'expired', 'verified', 'superseded']);
if (RAMP.some((level) => !Number.isInteger(level) || level < 1 || level > 256)) throw new Error('SOAK_RAMP must be integers from 1 to 256');

const VARS = [
  'PROVIDER_MODE:startmessaging',
  `SM_API_KEY:${API_KEY}`,
  'OTP_SECRET:soak-otp-secret',
  'SESSION_SECRET:soak-session-secret',
  `ADMIN_TOKEN:${ADMIN_TOKEN}`,
  'SEND_RETRY_BASE_SECONDS:1',
  'SEND_RETRY_MAX_SECONDS:4',
  // The soak measures the dispatcher, not the real account's 20 calls/s: the stand-in has no
  // rate limit, so the pacer is opened up too.
  'PROVIDER_RATE_PER_SECOND:2000',
  // Load from a few test ranges would trip the per-prefix, global and pumping defences, which
  // are not what is measured here (each send already has its own number and client IP).
  'PREFIX_LIMITS:1000000/60',
  'GLOBAL_SEND_LIMIT:1000000/60',
  'SEQUENTIAL_BURST_NUMBERS:1000',
  'PUMPING_MIN_SENDS:100000',
];

const DEFAULT_MIX = 'send:30,replay:2,poll:35,verify:15,admin:8,bad:10';
// SOAK_MIX reweights the traffic, e.g. "poll:60,admin:20,bad:20" to see what memory does without sends.
const MIX = (process.env.SOAK_MIX || DEFAULT_MIX).split(',').map((part) => {
  const [kind, weight] = part.split(':');
  if (!['send', 'replay', 'poll', 'verify', 'admin', 'bad'].includes(kind) || !(Number(weight) >= 0)) throw new Error(`SOAK_MIX: bad entry ${part}`);
  return [kind, Number(weight)];
});
const IDLE_SECONDS = intEnv('SOAK_IDLE_SECONDS', 0, 0, 600);
const WARM_UP_MAX_SECONDS = intEnv('SOAK_WARMUP_MAX_SECONDS', 360, 0, 3600);
const MIX_TOTAL = MIX.reduce((sum, [, weight]) => sum + weight, 0);

function parseArgs(argv) {
  const parsed = {};
  for (let i = 0; i < argv.length; i += 1) {
    const [flag, inline] = argv[i].split('=');
    const value = inline ?? argv[++i];
    const number = Number(value);
    if (flag === '--duration' && Number.isInteger(number) && number >= 10) parsed.duration = number;
    else if (flag === '--concurrency' && Number.isInteger(number) && number >= 1) parsed.concurrency = number;
    else throw new Error(`usage: soak.mjs [--duration SECONDS>=10] [--concurrency N]; got ${argv.join(' ')}`);
  }
  return parsed;
}

// ---------------------------------------------------------------------------------------------
// Processes, stopped whatever happens

const state = { stack: null, standIn: null, memoryTimer: null, codeTimer: null };
let exiting = false;

async function cleanup() {
  clearInterval(state.memoryTimer);
  clearInterval(state.codeTimer);
  await Promise.allSettled([state.stack?.stop(), state.standIn ? stopChild(state.standIn) : null]);
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

async function startStandInProcess() {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'scripts', 'startmessaging-stand-in.mjs'), '--port', '0', '--latency-ms', '40', '--latency-jitter-ms', '20', '--fail-rate', '0.1', '--seed', '7'],
    { stdio: ['ignore', 'pipe', 'ignore'], detached: true },
  );
  state.standIn = child;
  const line = await new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error('the stand-in did not start within 10 s')), 10_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      if (buffer.includes('\n')) {
        clearTimeout(timer);
        resolve(buffer.slice(0, buffer.indexOf('\n')));
      }
    });
    child.once('exit', (code) => reject(new Error(`the stand-in exited (${code})`)));
  });
  return JSON.parse(line).url;
}

// ---------------------------------------------------------------------------------------------
// Traffic

const requests = new Map(); // requestId -> { id, phoneNumber, createdAt, status, finalAt, wrong }
const allIds = [];
const pending = []; // ids not yet seen final (random pick, swap-remove)
const pendingIndex = new Map();
const verifiable = []; // ids seen `sent`, not yet verified, not being verified
const keyed = []; // { key, phoneNumber, requestId } of sends that carried an Idempotency-Key
const codes = new Map(); // provider idempotency key -> the code the stand-in received
const samples = []; // { phase, kind, status, ms, ok, detail }
let phase = 'ramp:0';

let ipCounter = 0;
let badCounter = 0;

function addPending(id) {
  pendingIndex.set(id, pending.length);
  pending.push(id);
}

function removePending(id) {
  const index = pendingIndex.get(id);
  if (index === undefined) return;
  const last = pending.pop();
  if (last !== id) {
    pending[index] = last;
    pendingIndex.set(last, index);
  }
  pendingIndex.delete(id);
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];
const digits = (count) => Array.from({ length: count }, () => Math.floor(Math.random() * 10)).join('');
const RANGES = [
  ['+1555', 7],
  ['+4477', 8],
  ['+9198', 8],
];
const issued = new Set();
function newPhone() {
  for (let i = 0; i < 100; i += 1) {
    const [head, rest] = pick(RANGES);
    const phone = `${head}${digits(rest)}`;
    if (!issued.has(phone)) {
      issued.add(phone);
      return phone;
    }
  }
  throw new Error('could not find an unused number');
}
function newIp() {
  ipCounter += 1;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

function noteStatus(id, status) {
  const request = requests.get(id);
  if (!request || request.status === status) return;
  request.status = status;
  if (FINAL.has(status) && !request.finalAt) {
    request.finalAt = Date.now();
    removePending(id);
  }
  if (status === 'sent' && !request.verifyQueued) {
    request.verifyQueued = true;
    verifiable.push(id);
  }
}

const errorShaped = (json) =>
  typeof json?.error?.code === 'string' && typeof json.error.message === 'string' && typeof json.error.requestId === 'string';

/** Times one call and records it; `check` says whether the answer was the expected one. */
async function timed(kind, call, check) {
  const start = performance.now();
  let answer;
  try {
    answer = await call();
  } catch (error) {
    samples.push({ phase, kind, status: 'error', ms: performance.now() - start, ok: false, detail: String(error?.name ?? error) });
    return null;
  }
  const ms = performance.now() - start;
  let detail = '';
  let ok = false;
  try {
    const verdict = check(answer);
    ok = verdict === true;
    if (!ok) detail = typeof verdict === 'string' ? verdict : answer.text.slice(0, 160);
  } catch (error) {
    detail = String(error?.message ?? error);
  }
  samples.push({ phase, kind, status: answer.status, ms, ok, detail: answer.status >= 500 ? `${detail} ${answer.text.slice(0, 200)}` : detail });
  return answer;
}

const BAD_INPUTS = [
  { name: 'invalid phone', method: 'POST', path: '/v1/otp', body: { phoneNumber: '98765' }, status: 400, code: 'invalid_phone_number' },
  { name: 'unknown field', method: 'POST', path: '/v1/otp', body: { phoneNumber: '+15550100000', extra: 1 }, status: 400, code: 'invalid_request' },
  { name: 'not JSON', method: 'POST', path: '/v1/otp', rawBody: '{"phoneNumber":', headers: { 'Content-Type': 'application/json' }, status: 400, code: 'invalid_json' },
  { name: 'text/plain', method: 'POST', path: '/v1/otp', rawBody: 'phoneNumber=1', headers: { 'Content-Type': 'text/plain' }, status: 415, code: 'unsupported_media_type' },
  { name: 'body over 4 KiB', method: 'POST', path: '/v1/otp', rawBody: JSON.stringify({ phoneNumber: 'x'.repeat(5000) }), headers: { 'Content-Type': 'application/json' }, status: 413, code: 'payload_too_large' },
  { name: 'malformed request id', method: 'GET', path: '/v1/otp/not-a-request-id', status: 400, code: 'invalid_request' },
  { name: 'unknown request id', method: 'GET', path: '/v1/otp/otp_AAAAAAAAAAAAAAAAAAAAAA', status: 404, code: 'not_found' },
  { name: 'bad idempotency key', method: 'POST', path: '/v1/otp', body: { phoneNumber: '+15550100000' }, headers: { 'Idempotency-Key': 'short' }, status: 400, code: 'invalid_idempotency_key' },
  { name: 'wrong admin token', method: 'GET', path: '/v1/admin/prefix-blocks', headers: { Authorization: 'Bearer wrong-token' }, status: 401, code: 'unauthorized' },
];

async function opSend(base) {
  const phoneNumber = newPhone();
  const idempotencyKey = Math.random() < 0.5 ? `soak-${randomUUID()}` : undefined;
  const headers = { 'CF-Connecting-IP': newIp(), ...(idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {}) };
  const answer = await timed('send', () => http('POST', `${base}/v1/otp`, { body: { phoneNumber }, headers, timeoutMs: REQUEST_TIMEOUT_MS }), (a) =>
    a.status === 202 && typeof a.json?.requestId === 'string' ? true : `status ${a.status}`,
  );
  if (answer?.status === 202 && answer.json?.requestId) {
    const id = answer.json.requestId;
    requests.set(id, { id, phoneNumber, createdAt: Date.now(), expiresAt: Date.parse(answer.json.expiresAt), status: 'queued', finalAt: null, wrong: 0 });
    allIds.push(id);
    addPending(id);
    if (idempotencyKey) keyed.push({ key: idempotencyKey, phoneNumber, requestId: id });
  }
}

async function opReplay(base) {
  if (keyed.length === 0) return opSend(base);
  const original = pick(keyed);
  await timed(
    'replay',
    () => http('POST', `${base}/v1/otp`, { body: { phoneNumber: original.phoneNumber }, headers: { 'Idempotency-Key': original.key, 'CF-Connecting-IP': newIp() }, timeoutMs: REQUEST_TIMEOUT_MS }),
    (a) =>
      a.status === 202 && a.json?.requestId === original.requestId && a.headers.get('idempotent-replayed') === 'true'
        ? true
        : `status ${a.status}, requestId ${a.json?.requestId === original.requestId ? 'same' : 'DIFFERENT'}`,
  );
}

async function opPoll(base) {
  const id = pending.length > 0 ? pick(pending) : allIds.length > 0 ? pick(allIds) : null;
  if (!id) return opSend(base);
  const answer = await timed('poll', () => http('GET', `${base}/v1/otp/${id}`, { timeoutMs: REQUEST_TIMEOUT_MS }), (a) =>
    a.status === 200 && a.json?.requestId === id ? true : `status ${a.status}`,
  );
  if (answer?.status === 200) noteStatus(id, answer.json.status);
}

async function opVerify(base) {
  // Take a sent request whose code the stand-in has seen; it is ours alone until we put it back.
  let id = null;
  for (let i = 0; i < 5 && verifiable.length > 0; i += 1) {
    const index = Math.floor(Math.random() * verifiable.length);
    const candidate = verifiable[index];
    // A code about to expire is left alone (a long soak builds a backlog of sent requests): its
    // answer would depend on a race with the clock, and expiry has tests of its own.
    const live = requests.get(candidate).expiresAt - Date.now() > 5000;
    if (!live || codes.has(`otpd-${candidate}`)) {
      verifiable[index] = verifiable[verifiable.length - 1];
      verifiable.pop();
      if (!live) continue;
      id = candidate;
      break;
    }
  }
  if (!id) return opPoll(base);
  const request = requests.get(id);
  const code = codes.get(`otpd-${id}`);
  // At most two wrong guesses per request: the limit (5) is not what is measured here.
  const wrong = request.wrong < 2 && Math.random() < 0.15;
  const guess = wrong ? `${code.slice(0, -1)}${(Number(code.at(-1)) + 1) % 10}` : code;
  const answer = await timed(wrong ? 'verify-wrong' : 'verify', () => http('POST', `${base}/v1/otp/${id}/verify`, { body: { code: guess }, timeoutMs: REQUEST_TIMEOUT_MS }), (a) =>
    wrong
      ? a.status === 400 && a.json?.error?.code === 'invalid_code' && typeof a.json.error.attemptsRemaining === 'number'
        ? true
        : `status ${a.status}`
      : a.status === 200 && a.json?.verified === true
        ? true
        : `status ${a.status}`,
  );
  if (wrong) {
    request.wrong += 1;
    verifiable.push(id);
  } else if (answer?.status === 200) {
    noteStatus(id, 'verified');
  } else {
    verifiable.push(id);
  }
}

async function opAdmin(base) {
  await timed('admin', () => http('GET', `${base}/v1/admin/prefix-blocks`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` }, timeoutMs: REQUEST_TIMEOUT_MS }), (a) =>
    a.status === 200 && Array.isArray(a.json?.blocks) ? true : `status ${a.status}`,
  );
}

async function opBad(base) {
  const input = BAD_INPUTS[badCounter++ % BAD_INPUTS.length];
  await timed('bad', () => http(input.method, `${base}${input.path}`, { body: input.body, rawBody: input.rawBody, headers: input.headers, timeoutMs: REQUEST_TIMEOUT_MS }), (a) =>
    a.status === input.status && a.json?.error?.code === input.code && errorShaped(a.json) ? true : `${input.name}: ${a.status} ${a.json?.error?.code ?? a.text.slice(0, 80)}`,
  );
}

const OPS = { send: opSend, replay: opReplay, poll: opPoll, verify: opVerify, admin: opAdmin, bad: opBad };

function pickKind() {
  let draw = Math.random() * MIX_TOTAL;
  for (const [kind, weight] of MIX) {
    draw -= weight;
    if (draw < 0) return kind;
  }
  return 'poll';
}

/** `clients` closed-loop clients, each making one call at a time, until `seconds` have passed. */
async function drive(base, clients, seconds, label) {
  phase = label;
  const until = Date.now() + seconds * 1000;
  const startedAt = Date.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = 0; i < 1_000_000 && Date.now() < until; i += 1) await OPS[pickKind()](base);
    }),
  );
  return (Date.now() - startedAt) / 1000;
}

function summarize(label, seconds) {
  const mine = samples.filter((sample) => sample.phase === label);
  const latencies = mine.map((sample) => sample.ms).sort((a, b) => a - b);
  return {
    label,
    calls: mine.length,
    rps: mine.length / seconds,
    p50: percentileOrNull(latencies, 50),
    p99: percentileOrNull(latencies, 99),
    errors5xx: mine.filter((sample) => typeof sample.status === 'number' && sample.status >= 500).length,
    transport: mine.filter((sample) => sample.status === 'error').length,
    unexpected: mine.filter((sample) => !sample.ok).length,
  };
}

/** RSS of the workerd processes under a wrangler dev, every MEMORY_EVERY_MS, into `series`. */
function startMemorySampler(stack, series, currentPhase, requestCount) {
  const sample = async () => {
    const workerd = processTree(stack.pid)
      .slice(1)
      .filter((pid) => processStat(pid)?.name === 'workerd')
      .map((pid) => ({ args: processArgs(pid), rssKb: processRssKb(pid) ?? 0 }));
    const runtime = workerd.filter((row) => row.args.includes('--inspector-addr'));
    const proxy = workerd.filter((row) => !row.args.includes('--inspector-addr'));
    const mb = (rows) => rows.reduce((sum, row) => sum + row.rssKb, 0) / 1024;
    series.push({ t: (Date.now() - series.startedAt) / 1000, phase: currentPhase(), requests: requestCount(), runtimeMb: mb(runtime), proxyMb: mb(proxy) });
  };
  series.startedAt = Date.now();
  return { sample, timer: setInterval(() => void sample(), MEMORY_EVERY_MS) };
}

/** Mean of the first and last third of a series, and the change between them. */
function thirds(series, key) {
  const third = Math.max(1, Math.floor(series.length / 3));
  const mean = (list) => list.reduce((sum, s) => sum + s[key], 0) / Math.max(1, list.length);
  const first = mean(series.slice(0, third));
  const last = mean(series.slice(-third));
  return { first, last, change: first > 0 ? (last - first) / first : 0 };
}

// ---------------------------------------------------------------------------------------------
// Main

const fmt = (value, digitsAfter = 1) => (value === null || value === undefined ? '-' : Number(value).toFixed(digitsAfter));

function table(header, rows) {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => String(row[column]).length)));
  const line = (cells) => `| ${cells.map((cell, column) => String(cell).padEnd(widths[column])).join(' | ')} |`;
  return [line(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

async function main() {
  const started = Date.now();
  const standInUrl = await startStandInProcess();
  state.stack = createDevStack({ label: 'otpd-soak', vars: [...VARS, `SM_BASE_URL:${standInUrl}`], keepTmp: process.env.E2E_KEEP_TMP === '1' });
  const stack = state.stack;
  const health = await stack.start();
  if (health?.providerMode !== 'startmessaging') throw new Error(`providerMode is ${health?.providerMode}`);
  const base = stack.base;
  console.log(`stand-in ${standInUrl} (40+0..20 ms, 10% 500s); wrangler dev ${base}, healthy after ${fmt((Date.now() - started) / 1000)} s`);

  // Codes, as the stand-in received them: what a user would read off the SMS.
  let lastSeq = 0;
  let fetchingCodes = false;
  const fetchCodes = async () => {
    if (fetchingCodes) return;
    fetchingCodes = true;
    try {
      const answer = await http('GET', `${standInUrl}/__calls?since=${lastSeq}`, { timeoutMs: 5000 });
      for (const call of answer.json?.calls ?? []) {
        if (call.idempotencyKey && call.otp) codes.set(call.idempotencyKey, call.otp);
        lastSeq = Math.max(lastSeq, call.seq);
      }
    } catch {
      /* next time */
    } finally {
      fetchingCodes = false;
    }
  };
  state.codeTimer = setInterval(fetchCodes, 1000);

  // Memory of the two workerd processes under wrangler dev: the runtime (the Worker, with local
  // D1, queues and Durable Objects; started with an inspector) and wrangler's own dev proxy.
  const memory = [];
  const sampler = startMemorySampler(stack, memory, () => phase, () => samples.length);
  state.memoryTimer = sampler.timer;
  await sampler.sample();

  // A few requests to poll from the start, whatever the mix.
  phase = 'seed';
  for (let i = 0; i < 20; i += 1) await opSend(base);

  // 1. Ramp
  let concurrency = FIXED_CONCURRENCY;
  const ramp = [];
  if (concurrency === null) {
    // Unmeasured warm-up, so the first step (the latency reference) does not pay for cold starts.
    await drive(base, 4, 4, 'warm-up');
    for (const level of RAMP) {
      const label = `ramp:${level}`;
      const seconds = await drive(base, level, STEP_SECONDS, label);
      ramp.push({ level, ...summarize(label, seconds) });
      const step = ramp.at(-1);
      console.log(`  ramp ${String(level).padStart(3)} clients: ${fmt(step.rps)} req/s, p50 ${fmt(step.p50)} ms, p99 ${fmt(step.p99)} ms, 5xx ${step.errors5xx}, transport errors ${step.transport}`);
    }
    for (const sample of samples.filter((s) => typeof s.status === 'number' && s.status >= 500).slice(0, 5)) console.log(`  5xx: ${sample.phase} ${sample.kind} ${sample.status} ${sample.detail}`);
    const firstP99 = ramp[0].p99;
    for (const step of ramp) step.healthy = step.errors5xx === 0 && step.transport === 0 && step.p99 <= Math.min(2000, 4 * firstP99);
    const healthy = ramp.filter((step) => step.healthy);
    if (healthy.length === 0) throw new Error('no ramp step was healthy');
    const best = healthy.reduce((top, step) => (step.rps > top.rps ? step : top));
    concurrency = best.level;
    console.log(`  chosen: ${concurrency} clients (the healthy step with the highest throughput, ${fmt(best.rps)} req/s)`);
  }

  // 2. Warm-up until the runtime's memory is stable, so that warming up is not judged as growth.
  const warmUpStartedAt = Date.now();
  let stableAfter = null;
  console.log(`warm-up: ${concurrency} clients until the runtime's RSS is stable (at most ${WARM_UP_MAX_SECONDS} s) ...`);
  for (let round = 0; round < 1000 && (Date.now() - warmUpStartedAt) / 1000 < WARM_UP_MAX_SECONDS; round += 1) {
    await drive(base, concurrency, Math.min(15, Math.max(1, WARM_UP_MAX_SECONDS - (Date.now() - warmUpStartedAt) / 1000)), 'warm-up');
    const elapsed = (Date.now() - warmUpStartedAt) / 1000;
    const recent = memory.filter((sample) => sample.phase === 'warm-up' && sample.t >= (Date.now() - memory.startedAt) / 1000 - 60);
    const half = recent.filter((sample) => sample.t >= (Date.now() - memory.startedAt) / 1000 - 30);
    const before = recent.filter((sample) => sample.t < (Date.now() - memory.startedAt) / 1000 - 30);
    const mean = (list) => list.reduce((sum, sample) => sum + sample.runtimeMb, 0) / list.length;
    const last = memory.at(-1);
    console.log(`  t+${fmt(elapsed, 0)} s: runtime ${fmt(last?.runtimeMb)} MB, dev proxy ${fmt(last?.proxyMb)} MB`);
    if (elapsed >= 60 && half.length >= 5 && before.length >= 5 && mean(half) <= 1.02 * mean(before)) {
      stableAfter = elapsed;
      break;
    }
  }
  console.log(stableAfter === null ? `  not stable after ${WARM_UP_MAX_SECONDS} s; soaking anyway` : `  stable after ${fmt(stableAfter, 0)} s`);

  // 3. Soak
  const soakStartedAt = Date.now();
  console.log(`soak: ${concurrency} clients for ${SOAK_SECONDS} s ...`);
  const progress = setInterval(() => {
    const done = samples.filter((sample) => sample.phase === 'soak').length;
    const mem = memory.at(-1);
    console.log(`  t+${fmt((Date.now() - soakStartedAt) / 1000, 0)} s: ${done} calls, ${pending.length} pending, workerd runtime ${fmt(mem?.runtimeMb)} MB, dev proxy ${fmt(mem?.proxyMb)} MB`);
  }, 10_000);
  const soakSeconds = await drive(base, concurrency, SOAK_SECONDS, 'soak');
  clearInterval(progress);
  const soak = summarize('soak', soakSeconds);

  // 4. Drain: poll every request not yet final until it is, or until the drain time is up.
  phase = 'drain';
  const drainStartedAt = Date.now();
  for (let round = 0; round < DRAIN_SECONDS * 2 && pending.length > 0 && Date.now() - drainStartedAt < DRAIN_SECONDS * 1000; round += 1) {
    const batch = [...pending];
    for (let i = 0; i < batch.length; i += 16) {
      await Promise.all(
        batch.slice(i, i + 16).map(async (id) => {
          const answer = await timed('poll', () => http('GET', `${base}/v1/otp/${id}`, { timeoutMs: REQUEST_TIMEOUT_MS }), (a) => a.status === 200);
          if (answer?.status === 200) noteStatus(id, answer.json.status);
        }),
      );
    }
    if (pending.length > 0) await sleep(500);
  }
  const drainSeconds = (Date.now() - drainStartedAt) / 1000;
  if (IDLE_SECONDS > 0) {
    // No traffic at all: does the runtime give memory back once idle objects are evicted?
    phase = 'idle';
    await sleep(IDLE_SECONDS * 1000);
  }
  clearInterval(state.memoryTimer);
  await fetchCodes();
  const stopped = stack.stop();

  // 5. The stand-in's view: SMS per key.
  const stats = (await http('GET', `${standInUrl}/__stats`)).json;
  const allCalls = (await http('GET', `${standInUrl}/__calls`, { timeoutMs: 30_000 })).json.calls;
  const smsByKey = new Map();
  for (const call of allCalls) if (call.newSms) smsByKey.set(call.idempotencyKey, (smsByKey.get(call.idempotencyKey) ?? 0) + 1);
  const delivered = [...requests.values()].filter((request) => request.status === 'sent' || request.status === 'verified');
  const notOneSms = delivered.filter((request) => (smsByKey.get(`otpd-${request.id}`) ?? 0) !== 1);
  const lost = [...requests.values()].filter((request) => !FINAL.has(request.status));
  const statusCounts = {};
  for (const request of requests.values()) statusCounts[request.status] = (statusCounts[request.status] ?? 0) + 1;
  // 202 to the SMS leaving (the stand-in's arrival time of the call that sent it): the service's
  // own delivery latency, unlike the time a client first saw `sent`, which depends on polling.
  const smsAt = new Map(allCalls.filter((call) => call.newSms).map((call) => [call.idempotencyKey, call.at]));
  const toSms = [...requests.values()]
    .map((request) => smsAt.get(`otpd-${request.id}`) - request.createdAt)
    .filter((ms) => Number.isFinite(ms))
    .map((ms) => Math.max(0, ms) / 1000)
    .sort((a, b) => a - b);

  // 6. Report
  if (ramp.length) {
    console.log(`\nRamp (closed loop, ${STEP_SECONDS} s per step):`);
    console.log(
      table(
        ['clients', 'req/s', 'p50 ms', 'p99 ms', '5xx', 'transport errors', 'healthy'],
        ramp.map((s) => [s.level, fmt(s.rps), fmt(s.p50), fmt(s.p99), s.errors5xx, s.transport, s.healthy ? (s.level === concurrency ? 'yes (chosen)' : 'yes') : 'no']),
      ),
    );
  }
  const soakSamples = samples.filter((sample) => sample.phase === 'soak');
  const kinds = [...new Set(soakSamples.map((sample) => sample.kind))].sort();
  console.log(`\nSoak: ${concurrency} clients, ${fmt(soakSeconds)} s, ${soak.calls} calls, ${fmt(soak.rps)} req/s, p50 ${fmt(soak.p50)} ms, p99 ${fmt(soak.p99)} ms`);
  console.log(
    table(
      ['kind', 'calls', 'req/s', 'statuses', 'unexpected', 'p50 ms', 'p99 ms'],
      kinds.map((kind) => {
        const mine = soakSamples.filter((sample) => sample.kind === kind);
        const byStatus = {};
        for (const sample of mine) byStatus[sample.status] = (byStatus[sample.status] ?? 0) + 1;
        const latencies = mine.map((sample) => sample.ms).sort((a, b) => a - b);
        return [
          kind,
          mine.length,
          fmt(mine.length / soakSeconds),
          Object.entries(byStatus).map(([status, count]) => `${status}:${count}`).join(' '),
          mine.filter((sample) => !sample.ok).length,
          fmt(percentileOrNull(latencies, 50)),
          fmt(percentileOrNull(latencies, 99)),
        ];
      }),
    ),
  );
  const unexpected = soakSamples.filter((sample) => !sample.ok);
  for (const sample of unexpected.slice(0, 10)) console.log(`  unexpected: ${sample.kind} ${sample.status} ${sample.detail}`);

  console.log(
    `\nRequests created: ${requests.size} (${Object.entries(statusCounts).map(([status, count]) => `${status} ${count}`).join(', ')}); ` +
      `202 to SMS at the provider p50 ${fmt(percentileOrNull(toSms, 50), 2)} s, p99 ${fmt(percentileOrNull(toSms, 99), 2)} s, max ${fmt(toSms.at(-1), 2)} s; drain ${fmt(drainSeconds)} s`,
  );
  console.log(
    `Stand-in: ${stats.calls} calls (${Object.entries(stats.byStatus).map(([status, count]) => `${status}: ${count}`).join(', ')}), ` +
      `${stats.delivered} SMS, ${stats.replays} idempotent replays, ${stats.duplicates} duplicates`,
  );

  await stopped;

  const soakMemory = memory.filter((sample) => sample.phase === 'soak');
  const runtime = thirds(soakMemory, 'runtimeMb');
  const proxy = thirds(soakMemory, 'proxyMb');
  const line = (sample) =>
    `  t=${fmt(sample.t, 0).padStart(4)} s  ${sample.phase.padEnd(8)} requests ${String(sample.requests).padStart(6)}  runtime ${fmt(sample.runtimeMb).padStart(7)} MB  dev proxy ${fmt(sample.proxyMb).padStart(7)} MB`;
  console.log(`\nMemory (RSS) of the workerd runtime and of wrangler's dev proxy (also workerd), every ${MEMORY_EVERY_MS / 1000} s:`);
  console.log(memory.map(line).join('\n'));
  console.log(
    `  warm-up: ${stableAfter === null ? `not stable within ${WARM_UP_MAX_SECONDS} s` : `stable after ${fmt(stableAfter, 0)} s`}; ` +
      `soak: runtime ${fmt(runtime.first)} -> ${fmt(runtime.last)} MB (first -> last third, ${fmt(runtime.change * 100)}%), ` +
      `dev proxy ${fmt(proxy.first)} -> ${fmt(proxy.last)} MB (${fmt(proxy.change * 100)}%, not judged)`,
  );
  const growth = soakMemory.length >= 3 ? runtime.change : null;

  const soakByKind = Object.fromEntries(kinds.map((kind) => [kind, soakSamples.filter((sample) => sample.kind === kind).length]));
  const all5xx = samples.filter((sample) => typeof sample.status === 'number' && sample.status >= 500).length;
  const replayMismatches = samples.filter((sample) => sample.kind === 'replay' && !sample.ok && sample.status !== 'error').length;
  const criteria = [
    ['zero 5xx (whole run)', all5xx === 0, `${all5xx}`],
    ['zero transport errors in the soak', soak.transport === 0, `${soak.transport}`],
    ['zero unexpected answers in the soak', unexpected.length === 0, `${unexpected.length}`],
    ['zero lost requests (every 202 reached a final status)', lost.length === 0, `${lost.length} of ${requests.size}`],
    ['zero duplicate SMS at the stand-in', stats.duplicates === 0, `${stats.duplicates}`],
    ['exactly one SMS per request that reached sent', notOneSms.length === 0, `${notOneSms.length} of ${delivered.length} differ`],
    ['replays answered the original requestId', replayMismatches === 0, `${replayMismatches} mismatches`],
    ['every kind of traffic ran in the soak', MIX.every(([kind, weight]) => weight === 0 || (soakByKind[kind] ?? 0) > 0), JSON.stringify(soakByKind)],
    [
      `memory flat after warm-up (runtime RSS, last third of the soak at most ${MEMORY_GROWTH_LIMIT * 100}% above the first third)`,
      growth !== null && growth <= MEMORY_GROWTH_LIMIT,
      `${fmt(runtime.first)} -> ${fmt(runtime.last)} MB, ${fmt(growth === null ? null : growth * 100)}%`,
    ],
  ];
  console.log('');
  for (const [name, ok, detail] of criteria) console.log(`${ok ? 'ok  ' : 'FAIL'}  ${name}: ${detail}`);
  for (const request of lost.slice(0, 5)) console.log(`  lost: ${request.id} last seen ${request.status}`);

  if (process.env.SOAK_JSON) {
    writeFileSync(
      process.env.SOAK_JSON,
      `${JSON.stringify({ concurrency, ramp, stableAfter, soak, soakByKind, statusCounts, lost: lost.length, stats, memory, growth, criteria }, null, 2)}\n`,
    );
  }
  return criteria.every(([, ok]) => ok);
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
