#!/usr/bin/env node
/**
 * End-to-end check of the send path against a flaky StartMessaging: `npm run e2e`.
 *
 * Starts the StartMessaging stand-in (30% of calls answer 500, seeded; ~50 ms latency) and
 * `wrangler dev` (local D1, Queues, Durable Objects in a throwaway --persist-to directory, with
 * PROVIDER_MODE=startmessaging pointed at the stand-in), requests codes for 40 distinct numbers,
 * waits until every request reads `sent`, then audits the stand-in's records: one SMS per
 * request, one idempotency key per request (`otpd-<requestId>`), the same code on every retry,
 * no duplicates, and retries really happened.
 *
 * wrangler dev runs on a snapshot of the working tree taken at start (in the temporary
 * directory, node_modules linked, .dev.vars/.env* left out), so concurrent edits cannot make it
 * reload mid-run, which would drop the local queue's delayed retries.
 *
 * Environment overrides: E2E_REQUESTS (40), E2E_SEED (20261126), E2E_FAIL_RATE (0.3),
 * E2E_LATENCY_MS (50), E2E_DRAIN_TIMEOUT_S (90), E2E_KEEP_TMP=1 (keep the persistence dir and log).
 * Harsher, optional modes: E2E_RATE_LIMIT=<rps> (the stand-in answers 429 beyond it; the real
 * provider's documented limit is 20) and E2E_HANG_RATE=<0..1> (that fraction of calls sends the SMS
 * but never answers, so the Worker times out, with SM_TIMEOUT_MS=E2E_TIMEOUT_MS or 1500, and must
 * retry with the same key).
 * Exit status 0 when every check passed, 1 otherwise (also on timeouts and SIGINT).
 */
import { mapLimit, sleep } from './lib/async.mjs';
import { createDevStack } from './lib/dev-stack.mjs';
import { intEnv } from './lib/env.mjs';
import { http } from './lib/http.mjs';
import { DEV_APP_AUTH } from './lib/local-dev-secrets.mjs';
import { bailOnFatal } from './lib/processes.mjs';
import { startStandIn } from './startmessaging-stand-in.mjs';

const REQUESTS = intEnv('E2E_REQUESTS', 40, 1, 99);
const SEED = intEnv('E2E_SEED', 20261126, 0, 2 ** 32 - 1);
const FAIL_RATE = Number(process.env.E2E_FAIL_RATE ?? 0.3);
const LATENCY_MS = intEnv('E2E_LATENCY_MS', 50, 0, 5000);
const RATE_LIMIT = intEnv('E2E_RATE_LIMIT', 0, 0, 100_000);
const HANG_RATE = Number(process.env.E2E_HANG_RATE ?? 0);
const SM_TIMEOUT_MS = intEnv('E2E_TIMEOUT_MS', 1500, 100, 30_000);
const HEALTH_TIMEOUT_MS = 60_000;
const DRAIN_TIMEOUT_MS = intEnv('E2E_DRAIN_TIMEOUT_S', 90, 5, 600) * 1000;
const MIGRATE_TIMEOUT_MS = 60_000;
const OVERALL_TIMEOUT_MS = HEALTH_TIMEOUT_MS + DRAIN_TIMEOUT_MS + MIGRATE_TIMEOUT_MS + 60_000;
const POLL_INTERVAL_MS = 500;
const FETCH_TIMEOUT_MS = 10_000;
const API_KEY = 'e2e-key';
const OTP_LENGTH = 6; // the default OTP_LENGTH (src/config.ts), not overridden here
const SUCCESS_STATUSES = new Set(['sent', 'delivered']);
// This check is about the send path, not admission: 40 sequential numbers from one IP within
// seconds would trip per-IP, per-prefix and pumping defences. Vars the Worker does not know
// are ignored, so these are harmless where a defence does not exist (yet).
const ADMISSION_OVERRIDES = ['IP_LIMITS:10000/60', 'PREFIX_LIMITS:10000/60', 'SEQUENTIAL_BURST_NUMBERS:1000', 'PUMPING_MIN_SENDS:100000'];
const TERMINAL_STATUSES = new Set(['sent', 'delivered', 'failed', 'expired', 'verified', 'superseded']);

const elapsed = (since) => ((Date.now() - since) / 1000).toFixed(1);

// ---------------------------------------------------------------------------------------------
// Resources, cleaned up exactly once whatever happens

const state = { standIn: null, stack: null, cleaning: null };

function cleanup() {
  state.cleaning ??= (async () => {
    await state.stack?.stop().catch(() => {});
    await state.standIn?.close().catch(() => {});
  })();
  return state.cleaning;
}

let exiting = false;
async function bail(message, code = 1) {
  if (exiting) return;
  exiting = true;
  console.error(message);
  if (code === 1) printLogTail();
  await cleanup();
  console.log(`e2e: ${checks.filter((c) => c.ok).length} passed, ${Math.max(1, checks.filter((c) => !c.ok).length)} failed`);
  process.exit(code);
}

const overallTimer = bailOnFatal(bail, { overallTimeoutMs: OVERALL_TIMEOUT_MS });

// ---------------------------------------------------------------------------------------------
// Helpers

function printLogTail(lines = 60) {
  const tail = state.stack?.logTail(lines) ?? [];
  if (tail.length === 0) return;
  console.error(`--- last ${tail.length} lines of the wrangler output ---`);
  for (const line of tail) console.error(line);
  console.error('--- end of wrangler output ---');
}

// ---------------------------------------------------------------------------------------------
// Checks

const checks = [];
function check(name, ok, detail = '') {
  checks.push({ name, ok: Boolean(ok), detail });
  console.log(`${ok ? 'ok  ' : 'FAIL'}  ${name}${detail ? ` (${detail})` : ''}`);
}

function summaryTable(rows) {
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log('');
  for (const [label, value] of rows) console.log(`  ${label.padEnd(width)}  ${value}`);
  console.log('');
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  const started = Date.now();
  state.standIn = await startStandIn({
    port: 0,
    host: '127.0.0.1',
    latencyMs: LATENCY_MS,
    latencyJitterMs: 20,
    failRate: FAIL_RATE,
    seed: SEED,
    rateLimit: RATE_LIMIT,
    hangRate: HANG_RATE,
    hangAfterSend: true,
  });
  const standIn = state.standIn;
  console.log(
    `stand-in: ${standIn.url} (failRate ${FAIL_RATE}, seed ${SEED}, latency ~${LATENCY_MS} ms` +
      `${RATE_LIMIT ? `, rateLimit ${RATE_LIMIT}/s` : ''}${HANG_RATE ? `, hangRate ${HANG_RATE} after send` : ''})`,
  );

  state.stack = createDevStack({
    label: 'otpd-e2e',
    vars: [
      'PROVIDER_MODE:startmessaging',
      // The development config routes between two sandbox providers; here StartMessaging alone.
      'PROVIDER_ORDER:startmessaging',
      `SM_BASE_URL:${standIn.url}`,
      `SM_API_KEY:${API_KEY}`,
      'OTP_SECRET:e2e-otp-secret',
      'SESSION_SECRET:e2e-session-secret',
      'SEND_RETRY_BASE_SECONDS:1',
      'SEND_RETRY_MAX_SECONDS:4',
      ...(HANG_RATE ? [`SM_TIMEOUT_MS:${SM_TIMEOUT_MS}`] : []),
      ...ADMISSION_OVERRIDES,
    ],
    keepTmp: process.env.E2E_KEEP_TMP === '1',
  });
  const stack = state.stack;
  console.log(`applying D1 migrations to a throwaway directory, then wrangler dev (log: ${stack.logPath}; kept only with E2E_KEEP_TMP=1) ...`);

  // 1. Health
  const health = await stack.start({ migrateTimeoutMs: MIGRATE_TIMEOUT_MS, healthTimeoutMs: HEALTH_TIMEOUT_MS });
  const base = stack.base;
  console.log(`wrangler dev: ${base}`);
  console.log(`healthy after ${elapsed(started)} s`);
  check('GET /healthz reports providerMode startmessaging', health?.providerMode === 'startmessaging', `providerMode=${health?.providerMode}`);

  // 2. Requests
  const phones = Array.from({ length: REQUESTS }, (_, i) => `+9198765400${String(i).padStart(2, '0')}`);
  const submittedAt = Date.now();
  const created = await mapLimit(phones, 8, async (phoneNumber) => {
    try {
      const answer = await http('POST', `${base}/v1/otp`, { body: { phoneNumber }, headers: DEV_APP_AUTH, timeoutMs: FETCH_TIMEOUT_MS });
      return { phoneNumber, status: answer.status, requestId: answer.json?.requestId, body: answer.text };
    } catch (error) {
      return { phoneNumber, status: null, error: String(error?.message ?? error) };
    }
  });
  const rejected = created.filter((entry) => entry.status !== 202 || typeof entry.requestId !== 'string');
  check(
    `POST /v1/otp answered 202 for all ${REQUESTS} numbers`,
    rejected.length === 0,
    rejected.length
      ? rejected
          .slice(0, 3)
          .map((e) => `${e.phoneNumber}: ${e.status ?? e.error} ${e.body?.slice(0, 200) ?? ''}`)
          .join('; ')
      : '',
  );
  const requests = created.filter((entry) => entry.status === 202 && typeof entry.requestId === 'string');
  if (requests.length === 0) throw new Error('no request was accepted; nothing to drain');

  // 3. Drain
  const latest = new Map(requests.map((r) => [r.requestId, { status: 'queued', attempts: 0 }]));
  const drainDeadline = Date.now() + DRAIN_TIMEOUT_MS;
  let lastProgress = 0;
  let drainedAt = null;
  for (let round = 0; round < Math.ceil(DRAIN_TIMEOUT_MS / POLL_INTERVAL_MS) + 10 && Date.now() < drainDeadline; round += 1) {
    const pending = [...latest].filter(([, view]) => !TERMINAL_STATUSES.has(view.status)).map(([id]) => id);
    if (pending.length === 0) break;
    if (stack.exit !== null) throw new Error(`wrangler dev exited (${stack.exit}) while draining`);
    await mapLimit(pending, 8, async (requestId) => {
      try {
        const answer = await http('GET', `${base}/v1/otp/${requestId}`, { headers: DEV_APP_AUTH, timeoutMs: FETCH_TIMEOUT_MS });
        if (answer.status === 200 && answer.json) latest.set(requestId, answer.json);
      } catch {
        /* try again next round */
      }
    });
    if ([...latest.values()].every((view) => TERMINAL_STATUSES.has(view.status))) {
      drainedAt = Date.now();
      break;
    }
    if (Date.now() - lastProgress >= 3000) {
      lastProgress = Date.now();
      const counts = {};
      for (const view of latest.values()) counts[view.status] = (counts[view.status] ?? 0) + 1;
      const s = standIn.stats();
      console.log(
        `  t+${elapsed(submittedAt)} s  ${Object.entries(counts)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}  provider calls=${s.calls} 500s=${s.failed500} sms=${s.delivered}`,
      );
    }
    await sleep(POLL_INTERVAL_MS);
  }
  const drainSeconds = drainedAt ? (drainedAt - submittedAt) / 1000 : null;
  const notSent = [...latest].filter(([, view]) => !SUCCESS_STATUSES.has(view.status));
  check(
    `every request reached sent within ${DRAIN_TIMEOUT_MS / 1000} s`,
    notSent.length === 0 && requests.length === REQUESTS,
    notSent.length
      ? `${notSent.length} not sent: ${notSent
          .slice(0, 5)
          .map(([id, v]) => `${id} status=${v.status} attempts=${v.attempts} lastError=${v.lastError ? `${v.lastError.code}: ${v.lastError.message}` : '-'}`)
          .join('; ')}`
      : `${drainSeconds?.toFixed(1)} s`,
  );

  // Give in-flight provider calls (there should be none) a moment to land, then read every
  // request once more so that its attempt count and the provider's records describe one moment.
  await sleep(1500);
  await mapLimit(requests, 8, async ({ requestId }) => {
    try {
      const answer = await http('GET', `${base}/v1/otp/${requestId}`, { headers: DEV_APP_AUTH, timeoutMs: FETCH_TIMEOUT_MS });
      if (answer.status === 200 && answer.json) latest.set(requestId, answer.json);
    } catch {
      /* keep the last view */
    }
  });

  // 4. Audit the provider's records
  const stats = standIn.stats();
  const calls = standIn.calls();
  const byKey = new Map();
  for (const call of calls) {
    const list = byKey.get(call.idempotencyKey) ?? [];
    list.push(call);
    byKey.set(call.idempotencyKey, list);
  }
  const expectedKeys = new Map(requests.map((r) => [`otpd-${r.requestId}`, r]));

  const notExactlyOne = [];
  const extra201 = [];
  const inconsistent = [];
  const headerMismatch = [];
  const phoneMismatch = [];
  const badOtp = [];
  const attemptMismatch = [];
  for (const [key, request] of expectedKeys) {
    const list = byKey.get(key) ?? [];
    const newSms = list.filter((call) => call.newSms).length;
    const answered201 = list.filter((call) => call.status === 201).length;
    if (newSms !== 1) notExactlyOne.push(`${request.requestId}: ${newSms} SMS in ${list.length} calls`);
    if (answered201 !== 1) extra201.push(`${request.requestId}: ${answered201} answers 201`);
    if (new Set(list.map((call) => call.otp)).size > 1) inconsistent.push(`${request.requestId}: otps differ`);
    if (list.some((call) => call.headerIdempotencyKey !== call.bodyIdempotencyKey)) headerMismatch.push(request.requestId);
    if (list.some((call) => call.phoneNumber !== request.phoneNumber)) phoneMismatch.push(request.requestId);
    if (list.some((call) => typeof call.otp !== 'string' || !new RegExp(`^\\d{${OTP_LENGTH}}$`).test(call.otp))) badOtp.push(request.requestId);
    const view = latest.get(request.requestId);
    // Only a finished request's count is stable; one still retrying may move between the reads.
    if (view && TERMINAL_STATUSES.has(view.status) && view.attempts !== list.length)
      attemptMismatch.push(`${request.requestId}: service says ${view.attempts}, provider saw ${list.length}`);
  }
  const strayKeys = [...byKey.keys()].filter((key) => !expectedKeys.has(key));
  const allowedStatuses = [201, 500, ...(RATE_LIMIT ? [429] : []), ...(HANG_RATE ? [null] : [])];
  const unexpectedStatuses = calls
    .filter((call) => !allowedStatuses.includes(call.status))
    .map((call) => `${call.idempotencyKey}: ${call.status ?? call.outcome}`);
  const short = (list) => (list.length ? `${list.length}: ${list.slice(0, 3).join('; ')}${list.length > 3 ? '; ...' : ''}` : '');

  check('every request has exactly one SMS sent (one new 201)', notExactlyOne.length === 0, short(notExactlyOne));
  check('every request got exactly one 201 answer', extra201.length === 0, short(extra201));
  check('every provider call used the key otpd-<requestId> of a known request', strayKeys.length === 0 && calls.length > 0, short(strayKeys.map(String)));
  check('body idempotencyKey and Idempotency-Key header agree on every call', headerMismatch.length === 0, short(headerMismatch));
  check(
    'all calls for one key carried the same otp',
    inconsistent.length === 0 && stats.inconsistentKeys === 0,
    short(inconsistent) || (stats.inconsistentKeys ? `inconsistentKeys=${stats.inconsistentKeys}` : ''),
  );
  check(
    `all calls carried the request's phone number and a ${OTP_LENGTH}-digit otp`,
    phoneMismatch.length === 0 && badOtp.length === 0,
    short([...phoneMismatch, ...badOtp]),
  );
  check(
    'zero duplicate SMS',
    stats.duplicates === 0 && stats.delivered <= expectedKeys.size,
    `duplicates=${stats.duplicates}, sms=${stats.delivered}, requests=${expectedKeys.size}`,
  );
  check(
    `provider answered only ${allowedStatuses.map((status) => status ?? 'no answer').join(', ')} (no 400/401/409${RATE_LIMIT ? '' : '/429'})`,
    unexpectedStatuses.length === 0,
    short(unexpectedStatuses),
  );
  check(
    'some calls failed with 500, so retries were exercised',
    stats.failed500 > 0 && stats.calls > expectedKeys.size,
    `500s=${stats.failed500}, calls=${stats.calls}`,
  );
  const finished = requests.filter(({ requestId }) => TERMINAL_STATUSES.has(latest.get(requestId)?.status)).length;
  check(
    'attempts reported by GET /v1/otp match the provider calls per request',
    attemptMismatch.length === 0,
    short(attemptMismatch) || (finished < requests.length ? `compared ${finished} finished requests of ${requests.length}` : ''),
  );

  // 5. Verify each delivered code: exactly once, yielding a session; a locked request refuses even the right code.
  const codeOf = (requestId) => (byKey.get(`otpd-${requestId}`) ?? []).find((call) => call.status === 201)?.otp;
  const postJson = (url, body, headers = {}) =>
    fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...DEV_APP_AUTH, ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
  const [locked, ...toVerify] = requests;
  const lockedCode = codeOf(locked.requestId);
  const wrongCode = lockedCode ? String((Number(lockedCode) + 1) % 10 ** OTP_LENGTH).padStart(OTP_LENGTH, '0') : '000000';
  const wrongAnswers = [];
  for (let i = 0; i < 5; i++) wrongAnswers.push((await postJson(`${base}/v1/otp/${locked.requestId}/verify`, { code: wrongCode })).status);
  const afterLock = await postJson(`${base}/v1/otp/${locked.requestId}/verify`, { code: lockedCode });
  check(
    'five wrong codes lock a request, even against the right code',
    wrongAnswers.every((status) => status === 400) && afterLock.status === 429,
    `answers ${wrongAnswers.join(',')} then ${afterLock.status}`,
  );

  const verifyProblems = [];
  let sessionCookie = null;
  await mapLimit(toVerify, 8, async ({ requestId, phoneNumber }) => {
    const code = codeOf(requestId);
    const first = await postJson(`${base}/v1/otp/${requestId}/verify`, { code });
    const cookie = first.headers.get('set-cookie')?.split(';')[0];
    if (first.status !== 200 || !cookie) return verifyProblems.push(`${requestId}: verify answered ${first.status}`);
    const session = await fetch(`${base}/v1/session`, { headers: { Cookie: cookie }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    const body = await session.json().catch(() => ({}));
    if (session.status !== 200 || body.phoneNumber !== phoneNumber) return verifyProblems.push(`${requestId}: session answered ${session.status}`);
    const again = await postJson(`${base}/v1/otp/${requestId}/verify`, { code });
    if (again.status !== 409) return verifyProblems.push(`${requestId}: second verify answered ${again.status}`);
    sessionCookie ??= cookie;
  });
  check('every delivered code verifies exactly once and yields a session GET /v1/session accepts', verifyProblems.length === 0, short(verifyProblems));
  const [name, value = ''] = (sessionCookie ?? 'otp_session=').split('=');
  const tampered = `${name}=${value.slice(0, -2)}${value.endsWith('AA') ? 'BB' : 'AA'}`;
  const tamperedAnswer = await fetch(`${base}/v1/session`, { headers: { Cookie: tampered }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  check('a tampered session cookie gets 401', sessionCookie !== null && tamperedAnswer.status === 401, `answered ${tamperedAnswer.status}`);

  summaryTable([
    ['requests', String(requests.length)],
    ['provider calls', String(stats.calls)],
    ['500s', String(stats.failed500)],
    ...(RATE_LIMIT ? [['429s', String(stats.rateLimited)]] : []),
    ...(HANG_RATE
      ? [
          ['unanswered (timeouts)', String(stats.hangs)],
          ['idempotent replays', String(stats.replays)],
        ]
      : []),
    ['SMS delivered', String(stats.delivered)],
    ['duplicates', String(stats.duplicates)],
    ['max calls/request', String(Math.max(0, ...[...expectedKeys.keys()].map((key) => byKey.get(key)?.length ?? 0)))],
    ['peak provider rps', String(stats.peakRps)],
    ['seconds to drain', drainSeconds === null ? 'did not drain' : drainSeconds.toFixed(1)],
    ['total seconds', elapsed(started)],
  ]);
}

let failedWith = null;
try {
  await main();
} catch (error) {
  failedWith = error;
}
if (!exiting) {
  exiting = true;
  const failed = checks.filter((c) => !c.ok);
  if (failedWith) console.error(`error: ${failedWith?.message ?? failedWith}`);
  if (failedWith || failed.length) {
    for (const c of failed) console.error(`failed: ${c.name}${c.detail ? ` (${c.detail})` : ''}`);
    printLogTail();
  }
  await cleanup();
  clearTimeout(overallTimer);
  const failures = failed.length + (failedWith ? 1 : 0);
  console.log(`e2e: ${checks.length - failed.length} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}
