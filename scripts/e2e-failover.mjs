#!/usr/bin/env node
/**
 * End-to-end check of failover between two providers: `npm run e2e:failover`.
 *
 * Starts the StartMessaging stand-in (primary) and the Twilio stand-in (secondary) in this process
 * and `wrangler dev` with PROVIDER_ORDER=startmessaging,twilio pointed at them, then runs three
 * scenarios on fresh numbers, resetting both stand-ins in between:
 *
 *   1. primary down: every StartMessaging call answers 500. Of 200 requests at least 99% must
 *      reach `sent` through Twilio within 30 s of their creation; no phone gets more than one
 *      message from either provider; every code (read from the Twilio stand-in) verifies.
 *   2. primary flapping: half of StartMessaging's calls answer 500 (seeded). No request fails;
 *      each request's provider calls, across both stand-ins, number exactly its attempts (no
 *      provider sees two calls for one attempt); every code verifies.
 *   3. invalid number: StartMessaging answers 400 for these numbers. Each request ends `failed`
 *      with `provider_rejected_request` and Twilio never hears of them (no failover).
 *
 * Environment: E2E_REQUESTS (200), E2E_SEED (20261215), E2E_KEEP_TMP=1 (keep wrangler's directory).
 * Exit status 0 when every check passed, 1 otherwise.
 */
import { mapLimit, sleep } from './lib/async.mjs';
import { createDevStack } from './lib/dev-stack.mjs';
import { intEnv } from './lib/env.mjs';
import { http } from './lib/http.mjs';
import { LOCAL_DEV_SECRETS } from './lib/local-dev-secrets.mjs';
import { bailOnFatal } from './lib/processes.mjs';
import { startStandIn } from './startmessaging-stand-in.mjs';
import { startTwilioStandIn } from './twilio-stand-in.mjs';

const REQUESTS = intEnv('E2E_REQUESTS', 200, 10, 999);
const SEED = intEnv('E2E_SEED', 20261215, 0, 2 ** 32 - 1);
const SECRET_KEY = 'sk_dev_local_development_secret_key';
const ADMIN = { Authorization: `Bearer ${LOCAL_DEV_SECRETS.ADMIN_TOKEN}` };
const APP = { Authorization: `Bearer ${SECRET_KEY}` };
const SENT_WITHIN_MS = 30_000;
const DRAIN_TIMEOUT_MS = 120_000;
const TERMINAL = new Set(['sent', 'delivered', 'failed', 'expired', 'verified', 'superseded']);
// About the send path, not admission: many numbers from one address within seconds.
const ADMISSION_OVERRIDES = ['IP_LIMITS:100000/60', 'PREFIX_LIMITS:100000/60', 'SEQUENTIAL_BURST_NUMBERS:1000', 'PUMPING_MIN_SENDS:100000'];

const state = { sm: null, twilio: null, stack: null };
const checks = [];
function check(name, ok, detail = '') {
  checks.push({ name, ok: Boolean(ok) });
  console.log(`${ok ? 'ok  ' : 'FAIL'}  ${name}${detail ? ` (${detail})` : ''}`);
}
async function cleanup() {
  await state.stack?.stop().catch(() => {});
  await state.sm?.close().catch(() => {});
  await state.twilio?.close().catch(() => {});
}
let exiting = false;
async function bail(message, code = 1) {
  if (exiting) return;
  exiting = true;
  console.error(message);
  for (const line of state.stack?.logTail(40) ?? []) console.error(line);
  await cleanup();
  process.exit(code);
}
const overall = bailOnFatal(bail, { overallTimeoutMs: 12 * 60_000, label: 'e2e:failover' });

// Indian mobile numbers (10 digits after +91), one block of a million per scenario.
const phonesFrom = (block, count) => Array.from({ length: count }, (_, i) => `+9198${block}${String(i).padStart(6, '0')}`);

async function createAll(base, phones) {
  return mapLimit(phones, 8, async (phoneNumber) => {
    const answer = await http('POST', `${base}/v1/otp`, { body: { phoneNumber }, headers: APP, timeoutMs: 15_000 }).catch((error) => ({
      status: String(error),
    }));
    return { phoneNumber, status: answer.status, requestId: answer.json?.requestId };
  });
}

/** Reads the admin listing (a page of 100 per call, so polling costs the runtime little) until every request is final. */
async function drain(base, requests, since) {
  const ids = new Set(requests.map((entry) => entry.requestId));
  const latest = new Map();
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (Date.now() < deadline) {
    let cursor = null;
    do {
      const query = `since=${since}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const answer = await http('GET', `${base}/v1/admin/requests?${query}`, { headers: ADMIN }).catch(() => null);
      if (answer?.status !== 200) break;
      for (const view of answer.json.requests) if (ids.has(view.requestId)) latest.set(view.requestId, view);
      cursor = answer.json.nextCursor;
    } while (cursor);
    if ([...ids].every((id) => TERMINAL.has(latest.get(id)?.status))) break;
    await sleep(1000);
  }
  return latest;
}

async function verifyAll(base, requests, codeOf) {
  const problems = [];
  await mapLimit(requests, 8, async ({ requestId }) => {
    const code = codeOf(requestId);
    if (!code) return problems.push(`${requestId}: no code received`);
    const answer = await http('POST', `${base}/v1/otp/${requestId}/verify`, { body: { code }, headers: APP });
    if (answer.status !== 200 || answer.json?.verified !== true) problems.push(`${requestId}: verify answered ${answer.status}`);
  });
  return problems;
}

/** Sends codes to fresh numbers until `provider`'s circuit reads closed (its cool-down passes, then a probe succeeds). */
async function closeCircuit(base, provider) {
  const deadline = Date.now() + 60_000;
  for (let round = 0; Date.now() < deadline; round += 1) {
    const listing = await http('GET', `${base}/v1/admin/providers`, { headers: ADMIN });
    const state = listing.json?.providers?.find((entry) => entry.name === provider)?.circuit.state;
    if (state === 'closed') return;
    await createAll(base, [`+9198400${String(round).padStart(5, '0')}`]);
    await sleep(2000);
  }
  throw new Error(`the circuit of ${provider} did not close within a minute`);
}

const short = (list) => (list.length ? `${list.length}: ${list.slice(0, 3).join('; ')}` : '');

async function main() {
  state.sm = await startStandIn({ latencyMs: 30, latencyJitterMs: 10, seed: SEED });
  state.twilio = await startTwilioStandIn({ latencyMs: 30, seed: SEED });
  const { sm, twilio } = state;
  state.stack = createDevStack({
    label: 'otpd-e2e-failover',
    vars: [
      'PROVIDER_MODE:startmessaging',
      'PROVIDER_ORDER:startmessaging,twilio',
      `SM_BASE_URL:${sm.url}`,
      'SM_API_KEY:e2e-key',
      `TWILIO_BASE_URL:${twilio.url}`,
      `TWILIO_ACCOUNT_SID:${twilio.accountSid}`,
      `TWILIO_AUTH_TOKEN:${twilio.authToken}`,
      'TWILIO_FROM:+15005550006',
      'TWILIO_RATE_PER_SECOND:20',
      'SM_TIMEOUT_MS:2000',
      'TWILIO_TIMEOUT_MS:2000',
      'SEND_RETRY_BASE_SECONDS:1',
      'SEND_RETRY_MAX_SECONDS:4',
      'FAILOVER_AFTER_SECONDS:1',
      ...ADMISSION_OVERRIDES,
    ],
    keepTmp: process.env.E2E_KEEP_TMP === '1',
  });
  await state.stack.start({ migrateTimeoutMs: 60_000, healthTimeoutMs: 90_000 });
  const base = state.stack.base;
  console.log(`wrangler dev: ${base}; StartMessaging stand-in ${sm.url}; Twilio stand-in ${twilio.url}`);

  // 1. Primary down.
  sm.reset();
  twilio.reset();
  await sm.close();
  state.sm = await startStandIn({ port: new URL(sm.url).port, latencyMs: 30, failRate: 1, seed: SEED });
  const downSince = Date.now() - 1000;
  const creating = Date.now();
  const down = await createAll(base, phonesFrom('10', REQUESTS));
  const createdIn = Date.now() - creating;
  check(
    `primary down: POST /v1/otp answered 202 for all ${REQUESTS}`,
    down.every((entry) => entry.status === 202),
    short(down.filter((e) => e.status !== 202).map((e) => `${e.phoneNumber} ${e.status}`)),
  );
  const downViews = await drain(base, down, downSince);
  const inTime = down.filter(({ requestId }) => {
    const view = downViews.get(requestId);
    return view?.sentAt && view.sentProvider === 'twilio' && Date.parse(view.sentAt) - Date.parse(view.createdAt) <= SENT_WITHIN_MS;
  });
  const delays = down
    .map(({ requestId }) => downViews.get(requestId))
    .filter((v) => v?.sentAt)
    .map((v) => Date.parse(v.sentAt) - Date.parse(v.createdAt))
    .sort((a, b) => a - b);
  check(
    `primary down: at least 99% reached sent through Twilio within ${SENT_WITHIN_MS / 1000} s of creation`,
    inTime.length >= Math.ceil(0.99 * REQUESTS),
    `${inTime.length} of ${REQUESTS}; p50 ${delays[Math.floor(delays.length / 2)] ?? '-'} ms, max ${delays.at(-1) ?? '-'} ms`,
  );
  const slowest = down
    .map(({ requestId }) => downViews.get(requestId))
    .filter(Boolean)
    .sort((a, b) => Date.parse(b.sentAt ?? b.updatedAt) - Date.parse(b.createdAt) - (Date.parse(a.sentAt ?? a.updatedAt) - Date.parse(a.createdAt)))[0];
  if (slowest) {
    const t0 = Date.parse(slowest.createdAt);
    const detail = await http('GET', `${base}/v1/admin/requests/${slowest.requestId}`, { headers: ADMIN });
    const steps = (detail.json?.attempts ?? []).map(
      (a) => `+${((Date.parse(a.startedAt) - t0) / 1000).toFixed(1)}s ${a.provider} ${a.outcome}${a.errorCode ? ` ${a.errorCode}` : ''}`,
    );
    console.log(`  slowest request ${slowest.requestId} (${slowest.status}): ${steps.join(', ')}`);
  }
  // Where the time went: how long creating took, and when Twilio took its calls (from the first creation).
  const twilioTimes = twilio
    .calls()
    .filter((call) => call.newSms)
    .map((call) => call.at - creating);
  if (twilioTimes.length > 0) {
    const span = (Math.max(...twilioTimes) - Math.min(...twilioTimes)) / 1000;
    console.log(
      `  created ${REQUESTS} in ${(createdIn / 1000).toFixed(1)} s; Twilio sent ${twilioTimes.length} from +${(Math.min(...twilioTimes) / 1000).toFixed(1)} s to +${(Math.max(...twilioTimes) / 1000).toFixed(1)} s (${(twilioTimes.length / Math.max(span, 0.001)).toFixed(1)}/s)`,
    );
  }
  const twilioStats = twilio.stats();
  const smStats = state.sm.stats();
  check(
    'primary down: no phone got two messages from one provider',
    twilioStats.repeatedRecipients === 0 && smStats.duplicates === 0,
    `twilio repeated ${twilioStats.repeatedRecipients}, sm duplicates ${smStats.duplicates}`,
  );
  const twilioCodes = new Map();
  for (const call of twilio.calls()) if (call.newSms) twilioCodes.set(call.phoneNumber, call.code);
  const phoneOf = new Map(down.map((entry) => [entry.requestId, entry.phoneNumber]));
  const downProblems = await verifyAll(base, inTime, (id) => twilioCodes.get(phoneOf.get(id)));
  check('primary down: every code verifies', downProblems.length === 0, short(downProblems));

  // 2. Primary flapping: half its calls fail.
  await state.sm.close();
  state.sm = await startStandIn({ port: new URL(sm.url).port, latencyMs: 30, failRate: 0.5, seed: SEED });
  twilio.reset();
  const flapSince = Date.now() - 1000;
  const flapping = await createAll(base, phonesFrom('20', REQUESTS));
  const flapViews = await drain(base, flapping, flapSince);
  const notSent = flapping.filter(({ requestId }) => !['sent', 'delivered'].includes(flapViews.get(requestId)?.status));
  check(
    'primary flapping: no request failed, every one was sent',
    notSent.length === 0,
    short(notSent.map((e) => `${e.requestId} ${flapViews.get(e.requestId)?.status}`)),
  );
  const smCalls = state.sm.calls();
  const twilioCalls = twilio.calls();
  const callsFor = (phone) => smCalls.filter((c) => c.phoneNumber === phone).length + twilioCalls.filter((c) => c.phoneNumber === phone).length;
  // A call that never reached the stand-in (a connection the busy local runtime dropped) is an
  // attempt it did not see; a call it saw twice for one attempt would be a duplicate.
  const over = flapping.filter(({ requestId, phoneNumber }) => callsFor(phoneNumber) > flapViews.get(requestId)?.attempts);
  const unseen = flapping.filter(({ requestId, phoneNumber }) => callsFor(phoneNumber) < flapViews.get(requestId)?.attempts);
  check(
    'primary flapping: no provider saw two calls for one attempt (calls across both stand-ins ≤ attempts)',
    over.length === 0,
    short(over.map((e) => `${e.requestId}: ${callsFor(e.phoneNumber)} calls, ${flapViews.get(e.requestId)?.attempts} attempts`)) ||
      (unseen.length ? `${unseen.length} attempts never reached a stand-in` : ''),
  );
  const flapStats = { sm: state.sm.stats(), twilio: twilio.stats() };
  check('primary flapping: no duplicate message at either provider', flapStats.sm.duplicates === 0 && flapStats.twilio.repeatedRecipients === 0);
  const codes = new Map();
  for (const call of smCalls) if (call.newSms) codes.set(call.phoneNumber, call.otp);
  for (const call of twilioCalls) if (call.newSms) codes.set(call.phoneNumber, call.code);
  const flapPhone = new Map(flapping.map((entry) => [entry.requestId, entry.phoneNumber]));
  const flapProblems = await verifyAll(base, flapping, (id) => codes.get(flapPhone.get(id)));
  check('primary flapping: every code verifies', flapProblems.length === 0, short(flapProblems));
  console.log(`  flapping: StartMessaging ${flapStats.sm.calls} calls (${flapStats.sm.failed500} 500s), Twilio ${flapStats.twilio.calls} calls`);

  // 3. Invalid number at the primary: no failover.
  await state.sm.close();
  const invalid = phonesFrom('30', 10);
  state.sm = await startStandIn({
    port: new URL(sm.url).port,
    latencyMs: 30,
    seed: SEED,
    script: Object.fromEntries(invalid.map((phone) => [phone, ['400']])),
  });
  twilio.reset();
  // StartMessaging is healthy again: a few sends let its circuit close (the half-open probe succeeds).
  await closeCircuit(base, 'startmessaging');
  twilio.reset();
  const refusedSince = Date.now() - 1000;
  const refused = await createAll(base, invalid);
  const refusedViews = await drain(base, refused, refusedSince);
  const wrong = refused.filter(
    ({ requestId }) => refusedViews.get(requestId)?.status !== 'failed' || refusedViews.get(requestId)?.lastError?.code !== 'provider_rejected_request',
  );
  check(
    'invalid number: every request failed with provider_rejected_request',
    wrong.length === 0,
    short(wrong.map((e) => `${e.requestId} ${refusedViews.get(e.requestId)?.status}`)),
  );
  // Only these numbers: a warm-up send of closeCircuit may still reach Twilio meanwhile.
  const failedOver = twilio.calls().filter((call) => invalid.includes(call.phoneNumber)).length;
  check('invalid number: Twilio was never called for them (no failover)', failedOver === 0, `twilio calls for them ${failedOver}`);
}

try {
  await main();
} catch (error) {
  checks.push({ name: 'ran to the end', ok: false });
  console.error(`error: ${error?.stack ?? error}`);
  for (const line of state.stack?.logTail(40) ?? []) console.error(line);
}
clearTimeout(overall);
await cleanup();
const failed = checks.filter((c) => !c.ok).length;
console.log(`e2e:failover: ${checks.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
