#!/usr/bin/env node
/**
 * SMS-pumping replay: `npm run bench:pumping`.
 *
 * Replays one synthetic hour against `wrangler dev` (the real Worker, local D1, Queues and
 * Durable Objects) in startmessaging mode, pointed at the local StartMessaging stand-in, which
 * records every SMS. Two populations share the hour:
 *
 * - legitimate users: random Indian mobile numbers over many prefixes, each from its own client
 *   address, arriving as a Poisson process; each reads its code from the SMS the stand-in
 *   received, waits a human-like moment and verifies it through `POST /v1/otp/:id/verify`. A
 *   share of them abandon (never verify), as real users do;
 * - an attack: many requests per second from rotating client addresses to runs of consecutive
 *   numbers in a few premium-style prefixes, never verifying.
 *
 * `--attack spread` spreads the attack thin instead: random numbers over 100 prefixes of one
 * country (+919xx), under every per-prefix signal, from a fresh address each, never verifying,
 * against browser traffic (the publishable key): real users solve a Turnstile challenge when the
 * step-up asks for one, and a share of them come back later in the hour (returning users); the
 * attacker never solves one. `--attack slow` is the same at a rate that stays under every
 * threshold for the whole hour: its cost per hour is what it measures.
 *
 * Time is compressed: every time-based var is divided by the same factor (default 10, the largest
 * the config's ranges allow: OTP_TTL_SECONDS may not go below 30 s), so the hour takes 6 minutes.
 * Rates scale the other way: a synthetic rate of r per second is replayed at r x factor.
 *
 * Prints the table (attack requests, attack SMS, share; legitimate users, verified, share; time
 * from the attack's start to each prefix's block) and exits 1 when a target is missed:
 * attack SMS at most 1% of attack requests, legitimate success at least 99%.
 *
 * Options: --factor 10  --legit-per-hour 1200 (600 spread/slow)  --attack-per-second 3 (synthetic; spread 1, slow 0.1)
 *          --attack sequential|scattered|spread|slow  --returning-share 0.3 (spread/slow: of the first 10 minutes' users)
 *          --abandon-rate 0.2  --seed 3  --json <file>  --quick (a 10x shorter replay, for trying it out)
 *          --doc docs/pumping.md (rewrite that file's generated block for this attack mode; `npm run
 *          bench:pumping` passes it; ignored with --quick)
 * Environment: BENCH_KEEP_TMP=1 keeps the temporary directory and the wrangler log.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { DEV_APP, DEV_APP_AUTH } from '../scripts/lib/local-dev-secrets.mjs';
import { INDIAN_MOBILE_LEADS, isSendable } from '../scripts/lib/phones.mjs';
import { mulberry32 } from '../scripts/lib/random.mjs';
import { startStandIn } from '../scripts/startmessaging-stand-in.mjs';
import {
  createRun,
  fmt,
  fmtInt,
  keepAliveAgent,
  machineInfo,
  migrate,
  parseArgs,
  percentile,
  request,
  sleep,
  snapshotProject,
  startDev,
  stateDir,
} from './lib/harness.mjs';
import { addReturningVisits, browserSend, SPREAD_PREFIXES, SPREAD_SCOPE, spreadAttackPlan, watchScope } from './lib/pumping-spread.mjs';
import { scaleSeconds, scaleSecondsList, scaleWindows, wranglerVars } from './lib/vars.mjs';

const options = parseArgs(process.argv.slice(2), {
  factor: 10,
  // 0 / -1: the attack mode's own default (below).
  legitPerHour: 0,
  legitPrefixes: 40,
  attackPerSecond: 0,
  attack: 'sequential',
  attackStartMinute: -1,
  attackEndMinute: -1,
  returningShare: 0.3,
  abandonRate: 0.2,
  seed: 3,
  json: '',
  doc: '',
  quick: false,
});
if (!['sequential', 'scattered', 'spread', 'slow'].includes(options.attack)) throw new Error('--attack must be sequential, scattered, spread or slow');
const SPREAD = options.attack === 'spread' || options.attack === 'slow';
const MODE_DEFAULTS = {
  sequential: { legitPerHour: 1200, attackPerSecond: 3, attackStartMinute: 5, attackEndMinute: 55 },
  scattered: { legitPerHour: 1200, attackPerSecond: 3, attackStartMinute: 5, attackEndMinute: 55 },
  spread: { legitPerHour: 600, attackPerSecond: 1, attackStartMinute: 5, attackEndMinute: 55 },
  slow: { legitPerHour: 600, attackPerSecond: 0.1, attackStartMinute: 0, attackEndMinute: 60 },
}[options.attack];
if (options.legitPerHour === 0) options.legitPerHour = MODE_DEFAULTS.legitPerHour;
if (options.attackPerSecond === 0) options.attackPerSecond = MODE_DEFAULTS.attackPerSecond;
if (options.attackStartMinute < 0) options.attackStartMinute = MODE_DEFAULTS.attackStartMinute;
if (options.attackEndMinute < 0) options.attackEndMinute = MODE_DEFAULTS.attackEndMinute;

const TARGET_ATTACK_SMS_SHARE = options.attack === 'spread' ? 0.05 : options.attack === 'slow' ? 1 : 0.01;
const TARGET_LEGIT_SUCCESS = 0.99;
const ATTACK_PREFIXES = ['+88216', '+23480', '+99365'];
const ADMIN_TOKEN = 'bench-admin-token';
const API_KEY = 'bench-key';

// ---------------------------------------------------------------------------------------------
// Scaling

const defaults = wranglerVars();
/** Lower bounds from src/config.ts for the time-based vars that have one above 1 s. */
const MINIMUMS = { OTP_TTL_SECONDS: 30, PUMPING_WINDOW_SECONDS: 60, PUMPING_BLOCK_SECONDS: 60, SESSION_TTL_SECONDS: 60 };
const maxFactor = Math.min(...Object.entries(MINIMUMS).map(([name, min]) => Math.floor(Number(defaults[name]) / min)));
if (options.factor > maxFactor) {
  throw new Error(`--factor ${options.factor} would push a var below its minimum; the largest faithful factor is ${maxFactor}`);
}
const k = options.factor;
const scaledVars = {
  PHONE_LIMITS: scaleWindows(defaults.PHONE_LIMITS, k),
  PHONE_COOLDOWN_SECONDS: scaleSecondsList(defaults.PHONE_COOLDOWN_SECONDS, k),
  IP_LIMITS: scaleWindows(defaults.IP_LIMITS, k),
  PREFIX_LIMITS: scaleWindows(defaults.PREFIX_LIMITS, k),
  GLOBAL_SEND_LIMIT: scaleWindows(defaults.GLOBAL_SEND_LIMIT, k),
  PUMPING_WINDOW_SECONDS: scaleSeconds(Number(defaults.PUMPING_WINDOW_SECONDS), k),
  PUMPING_GRACE_SECONDS: scaleSeconds(Number(defaults.PUMPING_GRACE_SECONDS), k),
  PUMPING_BLOCK_SECONDS: scaleSeconds(Number(defaults.PUMPING_BLOCK_SECONDS), k),
  SEQUENTIAL_BURST_SECONDS: scaleSeconds(Number(defaults.SEQUENTIAL_BURST_SECONDS), k),
  OTP_TTL_SECONDS: scaleSeconds(Number(defaults.OTP_TTL_SECONDS), k),
  VERIFY_FAILURE_LIMITS: scaleWindows(defaults.VERIFY_FAILURE_LIMITS, k),
  SESSION_TTL_SECONDS: scaleSeconds(Number(defaults.SESSION_TTL_SECONDS), k),
  STEP_UP_WINDOW_SECONDS: scaleSeconds(Number(defaults.STEP_UP_WINDOW_SECONDS), k),
  STEP_UP_GRACE_SECONDS: scaleSeconds(Number(defaults.STEP_UP_GRACE_SECONDS), k),
  STEP_UP_TRICKLE: scaleWindows(defaults.STEP_UP_TRICKLE, k),
  // A rate, so it scales up: the provider account allows k times more calls per real second.
  PROVIDER_RATE_PER_SECOND: Number(defaults.PROVIDER_RATE_PER_SECOND) * k,
};
const NOT_SCALED = [
  'SEND_RETRY_BASE_SECONDS / SEND_RETRY_MAX_SECONDS (minimum 1 s; the stand-in never fails here, so no retry happens)',
  'the per-phone cooldown reset (1 hour, not a var; every number here asks once)',
  "the queue's max_batch_timeout (1 s, in wrangler.toml: SMS arrive 1-2 real seconds after the request, i.e. 10-20 synthetic seconds)",
  'STEP_UP_REFRESH_SECONDS (minimum 1 s, so 10 synthetic seconds instead of 5) and how often the scope ledger judges (1 real second)',
];

const hourMs = (options.quick ? 360_000 : 3_600_000) / k;
const realRate = (perSyntheticSecond) => perSyntheticSecond * k;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

const random = mulberry32(options.seed);
const randomInt = (min, max) => min + Math.floor(random() * (max - min + 1));
const digits = (count) => Array.from({ length: count }, () => randomInt(0, 9)).join('');

// ---------------------------------------------------------------------------------------------
// Populations

/** Indian mobile ranges: +91, a lead of which every number is a mobile one, and one more digit. */
function legitPrefixes(count) {
  const set = new Set();
  for (let i = 0; i < 10_000 && set.size < count; i += 1) set.add(`+91${INDIAN_MOBILE_LEADS[randomInt(0, INDIAN_MOBILE_LEADS.length - 1)]}${digits(1)}`);
  return [...set];
}

function legitUsers() {
  const prefixes = legitPrefixes(options.legitPrefixes);
  const perMs = (options.legitPerHour * (options.quick ? 0.1 : 1)) / hourMs;
  const users = [];
  let at = 0;
  const seen = new Set();
  for (let i = 0; i < 100_000; i += 1) {
    at += -Math.log(1 - random()) / perMs; // exponential gaps: Poisson arrivals
    if (at >= hourMs) break;
    let phone;
    do phone = `${prefixes[randomInt(0, prefixes.length - 1)]}${digits(7)}`;
    while (seen.has(phone));
    seen.add(phone);
    users.push({
      at,
      phone,
      // CGNAT space, one address per user here (the defaults are lenient enough for sharing too).
      ip: `100.${64 + (users.length >> 16)}.${(users.length >> 8) & 255}.${users.length & 255}`,
      abandons: random() < options.abandonRate,
      // Reading the SMS and typing the code: 8 to 40 synthetic seconds.
      typingMs: ((8 + random() * 32) * 1000) / k,
      // Solving a Turnstile challenge when asked (spread and slow only): 2 to 6 synthetic seconds.
      solveMs: ((2 + random() * 4) * 1000) / k,
      outcome: 'pending',
    });
  }
  if (!SPREAD) return users;
  const minute = 60_000 / k / (options.quick ? 10 : 1);
  return addReturningVisits(users, { share: options.returningShare, earlyMs: 10 * minute, fromMs: 15 * minute, hourMs, random });
}

function attackPlan() {
  const start = (options.attackStartMinute * 60_000) / k / (options.quick ? 10 : 1);
  const end = (options.attackEndMinute * 60_000) / k / (options.quick ? 10 : 1);
  const interval = 1000 / realRate(options.attackPerSecond);
  if (SPREAD) return { start, end, requests: spreadAttackPlan({ startMs: start, endMs: end, perSecondReal: realRate(options.attackPerSecond), randomInt }) };
  const counters = Object.fromEntries(ATTACK_PREFIXES.map((prefix) => [prefix, 0]));
  // National digits after the prefix, and where a sequential run starts: +234 800 is toll-free,
  // which the service refuses before any limit, so the Nigerian run starts in 0803 (mobile).
  const national = { '+88216': 8, '+23480': 8, '+99365': 6 };
  const firstSequential = { '+88216': 0, '+23480': 30_000_000, '+99365': 0 };
  const requests = [];
  for (let i = 0; i < 1_000_000; i += 1) {
    const at = start + i * interval;
    if (at >= end) break;
    const prefix = ATTACK_PREFIXES[i % ATTACK_PREFIXES.length];
    const width = national[prefix];
    const numberOf = (n) => `${prefix}${String(n).padStart(width, '0')}`;
    let phone = numberOf(firstSequential[prefix] + counters[prefix]++);
    // Scattered: random numbers of the prefix that the service accepts, as an attacker's would be.
    if (options.attack !== 'sequential')
      do phone = numberOf(randomInt(0, 10 ** width - 1));
      while (!isSendable(phone));
    requests.push({
      at,
      prefix,
      phone,
      // A fresh address from the benchmarking range for every request.
      ip: `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`,
      status: null,
    });
  }
  return { start, end, requests };
}

// ---------------------------------------------------------------------------------------------
// Main

const run = createRun('pumping', { overallTimeoutMs: hourMs + 10 * 60_000 });

await run.main(async () => {
  const started = Date.now();
  const project = snapshotProject(run);
  const standIn = await startStandIn({ port: 0, host: '127.0.0.1', latencyMs: 30, latencyJitterMs: 20 });
  run.closers.push(() => standIn.close());
  const persistTo = stateDir(run);
  await migrate(run, project, persistTo);
  const dev = await startDev(run, {
    cwd: project,
    persistTo,
    label: 'dev',
    vars: {
      PROVIDER_MODE: 'startmessaging',
      PROVIDER_ORDER: 'startmessaging',
      SM_BASE_URL: standIn.url,
      SM_API_KEY: API_KEY,
      OTP_SECRET: 'bench-otp-secret-not-for-production',
      SESSION_SECRET: 'bench-session-secret-not-for-production',
      ADMIN_TOKEN,
      ...scaledVars,
    },
  });
  const base = dev.base;
  const agent = keepAliveAgent(256);
  // Every user and the attacker call as the development app (its secret key). It has no daily SMS
  // budget, and the per-phone, per-address, per-prefix and pumping defences are the deployment's,
  // whatever app asks (docs/apps.md), so one app for all the traffic changes nothing measured here.
  const post = (path, body, headers = {}) => request('POST', `${base}${path}`, { body, headers: { ...DEV_APP_AUTH, ...headers }, agent, timeoutMs: 20_000 });
  // Spread and slow: every send is a browser's, with the app's publishable key from its allowed origin.
  const browserPost = (path, body, headers = {}) => post(path, body, { Authorization: `Bearer ${DEV_APP.publishableKey}`, ...headers });

  console.log(`Pumping replay: 1 synthetic hour in ${fmt(hourMs / 1000, 0)} s of real time (every time-based var divided by ${k}).`);
  console.log(
    `  scaled vars: ${Object.entries(scaledVars)
      .map(([name, value]) => `${name}=${value}`)
      .join(' ')}`,
  );
  console.log(`  not scaled: ${NOT_SCALED.join('; ')}`);

  // 0. Is the client address honoured? wrangler dev must pass CF-Connecting-IP through, or the
  //    per-IP limit would see one address for every simulated client.
  const probePhones = Array.from({ length: 12 }, () => `+4474${digits(8)}`);
  const probe = [];
  const ipWindow = scaleWindows(defaults.IP_LIMITS, k).split(',')[0];
  const ipLimit = Number(ipWindow.split('/')[0]);
  for (const phone of probePhones.slice(0, ipLimit + 1))
    probe.push((await post('/v1/otp', { phoneNumber: phone }, { 'CF-Connecting-IP': '192.0.2.77' })).status);
  const other = (await post('/v1/otp', { phoneNumber: probePhones[ipLimit + 1] }, { 'CF-Connecting-IP': '192.0.2.78' })).status;
  const honoured = probe.slice(0, ipLimit).every((status) => status === 202) && probe[ipLimit] === 429 && other === 202;
  console.log(
    `  CF-Connecting-IP honoured by wrangler dev: ${honoured ? 'yes' : 'NO'} (${ipLimit} requests from one address admitted, the next refused with ${probe[ipLimit]}; another address admitted with ${other})`,
  );
  if (!honoured) throw new Error('wrangler dev did not honour CF-Connecting-IP; per-IP limits cannot be simulated this way');

  const users = legitUsers();
  const attack = attackPlan();
  const attackedPrefixes = SPREAD ? `100 prefixes ${SPREAD_PREFIXES[0]}-${SPREAD_PREFIXES.at(-1)}` : ATTACK_PREFIXES.join(', ');
  console.log(
    `  legitimate users: ${users.length} over ${options.legitPrefixes} prefixes (${users.filter((user) => user.returning).length} of them return visits), ${Math.round(options.abandonRate * 100)}% abandon; attack: ${attack.requests.length} requests (${options.attack}) to ${attackedPrefixes} at ${realRate(options.attackPerSecond)}/s real (${options.attackPerSecond}/s synthetic), synthetic minutes ${options.attackStartMinute}-${options.attackEndMinute}`,
  );
  const scopeWatch = SPREAD
    ? watchScope({ request, base, headers: { Authorization: `Bearer ${ADMIN_TOKEN}` }, agent, scope: SPREAD_SCOPE, everyMs: 500, sleep })
    : null;

  // The codes the stand-in received, by idempotency key, polled in one place.
  const codes = new Map();
  let lastSeq = 0;
  let polling = true;
  const poller = (async () => {
    for (let i = 0; i < 1_000_000 && polling; i += 1) {
      try {
        const answer = await request('GET', `${standIn.url}/__calls?since=${lastSeq}`, { agent });
        // A call is listed when it arrives and settles after the stand-in's latency: read again
        // from the oldest call still pending.
        let firstPending = null;
        for (const call of answer.json?.calls ?? []) {
          if (call.outcome === 'pending' && firstPending === null) firstPending = call.seq;
          if (firstPending === null) lastSeq = Math.max(lastSeq, call.seq);
          if (call.newSms && call.idempotencyKey) codes.set(call.idempotencyKey, call.otp);
        }
      } catch {
        /* try again */
      }
      await sleep(150);
    }
  })();

  const t0 = Date.now();
  const ttlMs = scaledVars.OTP_TTL_SECONDS * 1000;

  async function legit(user) {
    await sleep(Math.max(0, t0 + user.at - Date.now()));
    let answer;
    try {
      if (SPREAD) {
        const sent = await browserSend(browserPost, { phoneNumber: user.phone }, { ip: user.ip, solves: true, solveMs: user.solveMs, sleep });
        answer = sent.answer;
        user.challenged = sent.challenged;
      } else answer = await post('/v1/otp', { phoneNumber: user.phone }, { 'CF-Connecting-IP': user.ip });
    } catch {
      user.outcome = `request_error`;
      return;
    }
    if (answer.status !== 202) {
      user.outcome = `request_${answer.status}`;
      return;
    }
    const key = `otpd-${answer.json.requestId}`;
    user.key = key;
    user.requestedAt = Date.now();
    const deadline = Date.now() + ttlMs;
    for (let i = 0; i < 10_000 && !codes.has(key) && Date.now() < deadline; i += 1) await sleep(100);
    const code = codes.get(key);
    if (!code) {
      user.outcome = 'no_sms';
      return;
    }
    user.gotCode = true;
    if (user.abandons) {
      user.outcome = 'abandoned';
      return;
    }
    await sleep(user.typingMs);
    try {
      const verifyPost = SPREAD ? (path, body) => browserPost(path, body, { Origin: 'http://localhost:8787' }) : post;
      const verified = await verifyPost(`/v1/otp/${answer.json.requestId}/verify`, { code });
      user.outcome = verified.status === 200 && verified.json?.verified === true ? 'verified' : `verify_${verified.status}_${verified.json?.error?.code ?? ''}`;
    } catch {
      user.outcome = 'verify_error';
    }
  }

  let inFlight = 0;
  const MAX_IN_FLIGHT = 256;
  let skipped = 0;
  async function attacker() {
    const pending = [];
    for (const item of attack.requests) {
      const wait = t0 + item.at - Date.now();
      if (wait > 0) await sleep(wait);
      if (inFlight >= MAX_IN_FLIGHT) {
        // The server is behind; an open-loop attacker would pile up, this one sheds the excess.
        item.status = 'skipped';
        skipped += 1;
        continue;
      }
      inFlight += 1;
      item.sentAt = Date.now();
      const sending = SPREAD
        ? browserSend(browserPost, { phoneNumber: item.phone }, { ip: item.ip, solves: false, sleep }).then((sent) => sent.answer)
        : post('/v1/otp', { phoneNumber: item.phone }, { 'CF-Connecting-IP': item.ip });
      pending.push(
        sending
          .then((answer) => {
            item.status = answer.status;
            item.code = answer.json?.error?.code ?? null;
          })
          .catch(() => (item.status = 'error'))
          .finally(() => (inFlight -= 1)),
      );
    }
    await Promise.all(pending);
  }

  const progress = setInterval(() => {
    const elapsed = Date.now() - t0;
    const done = users.filter((user) => user.outcome !== 'pending');
    const attackSent = attack.requests.filter((item) => item.sentAt).length;
    console.log(
      `  t=${fmt(elapsed / 1000, 0)} s (synthetic minute ${fmt((elapsed * k) / 60_000, 0)}): legit done ${done.length}/${users.length}, verified ${done.filter((u) => u.outcome === 'verified').length}; attack sent ${attackSent}, in flight ${inFlight}`,
    );
  }, 30_000);
  progress.unref();

  await Promise.all([...users.map(legit), attacker()]);
  clearInterval(progress);
  // Let the last jobs reach the provider before counting.
  await sleep(4000);
  polling = false;
  await poller;
  await scopeWatch?.stop();

  // ------------------------------------------------------------------------------------------
  // Results

  const calls = standIn.calls();
  const sms = calls.filter((call) => call.newSms);
  const attackSet = new Set(attack.requests.map((item) => item.phone));
  const attackSms = sms.filter((call) => attackSet.has(call.phoneNumber));
  const blocksAnswer = await request('GET', `${base}/v1/admin/prefix-blocks`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` }, agent });
  const blocks = blocksAnswer.json?.blocks ?? [];
  const sentAttack = attack.requests.filter((item) => item.sentAt);
  const attackStartedAt = sentAttack[0]?.sentAt ?? t0;

  const perPrefix = ATTACK_PREFIXES.map((prefix) => {
    const block = blocks.find((entry) => entry.prefix === prefix);
    const requests = sentAttack.filter((item) => item.prefix === prefix);
    const prefixSms = attackSms.filter((call) => call.phoneNumber.startsWith(prefix));
    const blockedAt = block ? Date.parse(block.since) : null;
    const firstRequest = requests[0]?.sentAt ?? null;
    return {
      prefix,
      requests: requests.length,
      admitted: requests.filter((item) => item.status === 202).length,
      sms: prefixSms.length,
      blocked: Boolean(block),
      reason: block?.reason ?? null,
      note: block?.note ?? null,
      secondsToBlock: blockedAt ? (blockedAt - attackStartedAt) / 1000 : null,
      secondsToBlockFromFirstRequest: blockedAt && firstRequest ? (blockedAt - firstRequest) / 1000 : null,
    };
  });

  // How long legitimate SMS took from the request to the provider, late ones included.
  const firstSmsAt = new Map();
  for (const call of sms) if (call.idempotencyKey && !firstSmsAt.has(call.idempotencyKey)) firstSmsAt.set(call.idempotencyKey, call.at);
  const smsLatencies = users
    .filter((user) => user.key && firstSmsAt.has(user.key))
    .map((user) => firstSmsAt.get(user.key) - user.requestedAt)
    .sort((a, b) => a - b);
  const lateSms = users.filter((user) => user.outcome === 'no_sms' && firstSmsAt.has(user.key)).length;
  const smsDelay = { p50Ms: percentile(smsLatencies, 50), p99Ms: percentile(smsLatencies, 99), maxMs: smsLatencies.at(-1) ?? NaN, lateSms };

  const legitBlocked = blocks.filter((block) => !ATTACK_PREFIXES.includes(block.prefix));
  const outcomes = {};
  for (const user of users) outcomes[user.outcome] = (outcomes[user.outcome] ?? 0) + 1;
  const gotCode = users.filter((user) => user.gotCode).length;
  const tried = users.filter((user) => !user.abandons);
  const returningVisits = users.filter((user) => user.returning);
  const returningVerified = returningVisits.filter((user) => user.outcome === 'verified').length;
  const attackMinutes = options.attackEndMinute - options.attackStartMinute;
  const refusedByCode = {};
  for (const item of sentAttack)
    if (item.status !== 202) refusedByCode[item.code ?? String(item.status)] = (refusedByCode[item.code ?? String(item.status)] ?? 0) + 1;
  const syntheticMinute = (at) => ((at - t0) * k) / 60_000 / (options.quick ? 0.1 : 1);
  const spread = SPREAD
    ? {
        scope: SPREAD_SCOPE,
        prefixes: SPREAD_PREFIXES.length,
        changes: scopeWatch.changes.map((change) => ({ ...change, syntheticMinute: syntheticMinute(change.at) })),
        refusedByCode,
        returning: { visits: returningVisits.length, verified: returningVerified },
        challenged: users.filter((user) => user.challenged).length,
        challengedVerified: users.filter((user) => user.challenged && user.outcome === 'verified').length,
        smsPerSyntheticHour: attackMinutes > 0 ? (attackSms.length * 60) / attackMinutes : 0,
        attackPrefixesBlocked: blocks.filter((block) => SPREAD_PREFIXES.includes(block.prefix)).length,
      }
    : null;
  const verified = tried.filter((user) => user.outcome === 'verified').length;
  const attackRequests = sentAttack.length;
  const attackShare = attackRequests ? attackSms.length / attackRequests : 0;
  const legitShare = tried.length ? verified / tried.length : 0;
  const conversion = gotCode ? users.filter((user) => user.outcome === 'verified').length / gotCode : 0;

  const result = {
    factor: k,
    syntheticHourSeconds: hourMs / 1000,
    attackMode: options.attack,
    scaledVars,
    notScaled: NOT_SCALED,
    clientIpHonoured: honoured,
    attack: {
      requests: attackRequests,
      skipped,
      admitted: sentAttack.filter((item) => item.status === 202).length,
      sms: attackSms.length,
      share: attackShare,
      ratePerSecondReal: realRate(options.attackPerSecond),
      ratePerSecondSynthetic: options.attackPerSecond,
    },
    legit: { users: users.length, gotCode, tried: tried.length, verified, share: legitShare, abandonRate: options.abandonRate, conversion, outcomes },
    prefixes: perPrefix,
    smsDelay,
    legitPrefixesBlocked: legitBlocked.map((block) => ({ prefix: block.prefix, reason: block.reason })),
    defaults: {
      SEQUENTIAL_BURST_NUMBERS: Number(defaults.SEQUENTIAL_BURST_NUMBERS),
      SEQUENTIAL_BURST_SECONDS: Number(defaults.SEQUENTIAL_BURST_SECONDS),
      PUMPING_MIN_SENDS: Number(defaults.PUMPING_MIN_SENDS),
      PUMPING_MIN_CONVERSION: Number(defaults.PUMPING_MIN_CONVERSION),
      PUMPING_GRACE_SECONDS: Number(defaults.PUMPING_GRACE_SECONDS),
      PREFIX_LIMITS: defaults.PREFIX_LIMITS,
    },
    targets: { attackSmsShareMax: TARGET_ATTACK_SMS_SHARE, legitSuccessMin: TARGET_LEGIT_SUCCESS },
    spread,
    pass: attackShare <= TARGET_ATTACK_SMS_SHARE && legitShare >= TARGET_LEGIT_SUCCESS && (!spread || spread.returning.verified === spread.returning.visits),
    seconds: (Date.now() - started) / 1000,
  };

  const pct = (value) => `${fmt(value * 100, 2)}%`;
  console.log('');
  console.log(`| population | requests / users | SMS / verified | share | target |`);
  console.log(`|---|---:|---:|---:|---|`);
  console.log(
    `| attack (${options.attack}, ${SPREAD ? SPREAD_PREFIXES.length : ATTACK_PREFIXES.length} prefixes) | ${fmtInt(attackRequests)} requests | ${attackSms.length} SMS | ${pct(attackShare)} | at most ${fmt(TARGET_ATTACK_SMS_SHARE * 100, 0)}% ${attackShare <= TARGET_ATTACK_SMS_SHARE ? 'met' : 'MISSED'} |`,
  );
  console.log(
    `| legitimate users | ${fmtInt(users.length)} users (${tried.length} meant to verify) | ${verified} verified (${gotCode} got their code) | ${pct(legitShare)} | at least 99% ${legitShare >= TARGET_LEGIT_SUCCESS ? 'met' : 'MISSED'} |`,
  );
  if (spread) {
    console.log(
      `spread: ${spread.scope} changes ${spread.changes.map((change) => `${change.mode} at synthetic minute ${fmt(change.syntheticMinute, 1)}`).join(', ') || 'none'}; ` +
        `attack refused by ${JSON.stringify(spread.refusedByCode)}; returning visits ${spread.returning.verified}/${spread.returning.visits} verified; ` +
        `legitimate users asked for Turnstile ${spread.challenged} (${spread.challengedVerified} verified); attack SMS per synthetic hour ${fmt(spread.smsPerSyntheticHour, 0)}`,
    );
  }
  console.log('');
  console.log(`| attacked prefix | requests | admitted | SMS | blocked by | time from attack start to block (real / synthetic) |`);
  console.log(`|---|---:|---:|---:|---|---|`);
  for (const row of perPrefix) {
    console.log(
      `| ${row.prefix} | ${fmtInt(row.requests)} | ${row.admitted} | ${row.sms} | ${row.reason ?? 'not blocked'} | ${row.secondsToBlock === null ? 'n/a' : `${fmt(row.secondsToBlock, 1)} s / ${fmt(row.secondsToBlock * k, 0)} s`} |`,
    );
  }
  console.log('');
  console.log(
    `legitimate outcomes: ${Object.entries(outcomes)
      .map(([name, count]) => `${name}=${count}`)
      .join(', ')}; conversion of delivered codes ${pct(conversion)}`,
  );
  console.log(
    `SMS delay for legitimate requests (request to provider call): p50 ${fmt(smsDelay.p50Ms, 0)} ms, p99 ${fmt(smsDelay.p99Ms, 0)} ms, max ${fmt(smsDelay.maxMs, 0)} ms; arrived after the code's lifetime: ${lateSms}`,
  );
  console.log(`legitimate prefixes blocked: ${legitBlocked.length ? legitBlocked.map((block) => `${block.prefix} (${block.reason})`).join(', ') : 'none'}`);
  if (skipped) console.log(`attack requests shed by the client because ${MAX_IN_FLIGHT} were in flight: ${skipped}`);
  console.log(
    `what the defaults imply, unscaled: a run of consecutive numbers gets at most SEQUENTIAL_BURST_NUMBERS - 1 = ${Number(defaults.SEQUENTIAL_BURST_NUMBERS) - 1} SMS per prefix before the block ` +
      `(${defaults.SEQUENTIAL_BURST_NUMBERS} distinct numbers of one thousand-block within ${defaults.SEQUENTIAL_BURST_SECONDS} s); scattered numbers are caught by conversion after PUMPING_MIN_SENDS = ${defaults.PUMPING_MIN_SENDS} settled sends ` +
      `below ${Number(defaults.PUMPING_MIN_CONVERSION) * 100}%, plus whatever PREFIX_LIMITS (${defaults.PREFIX_LIMITS}) admits during the ${defaults.PUMPING_GRACE_SECONDS} s grace.`,
  );
  console.log(`result: ${result.pass ? 'both targets met' : 'a target was missed'} (${fmt(result.seconds, 0)} s in all)`);
  if (options.json) writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
  if (options.doc && !options.quick) {
    writeDocBlock(options.doc, options.attack, spread ? renderSpreadBlock(result) : renderBlock(result));
    console.log(`wrote the ${options.attack} block of ${options.doc}`);
  }
  return result.pass ? 0 : 1;
});

// ---------------------------------------------------------------------------------------------
// The doc: prose is written by hand; each attack mode's measured block is rewritten between markers.

function renderBlock(result) {
  const machine = machineInfo();
  const pct = (value) => `${fmt(value * 100, 2)}%`;
  const command = result.attackMode === 'sequential' ? 'npm run bench:pumping' : `npm run bench:pumping -- --attack ${result.attackMode}`;
  const lines = [
    `Measured ${machine.date.slice(0, 10)} with \`${command}\` (${fmt(result.seconds / 60, 1)} min) on ${machine.nproc} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}, wrangler ${machine.wrangler}, workerd ${machine.workerd}.`,
    `One synthetic hour replayed in ${fmt(result.syntheticHourSeconds, 0)} s: every time-based var divided by ${result.factor} (${Object.entries(
      result.scaledVars,
    )
      .map(([name, value]) => `\`${name}=${value}\``)
      .join(', ')}).`,
    `\`CF-Connecting-IP\` honoured by \`wrangler dev\`: ${result.clientIpHonoured ? 'yes, checked at the start of the run' : 'no'}.`,
    '',
    '| population | volume | outcome | share | target |',
    '|---|---:|---:|---:|---|',
    `| attack (${result.attackMode} numbers, ${result.prefixes.length} prefixes, ${result.attack.ratePerSecondReal}/s real = ${result.attack.ratePerSecondSynthetic}/s synthetic) | ${fmtInt(result.attack.requests)} requests | ${result.attack.sms} SMS | ${pct(result.attack.share)} | at most 1%: ${result.attack.share <= result.targets.attackSmsShareMax ? '**met**' : `**missed** by ${fmt((result.attack.share - result.targets.attackSmsShareMax) * 100, 2)} points`} |`,
    `| legitimate users (${fmt(result.legit.abandonRate * 100, 0)}% abandon) | ${fmtInt(result.legit.users)} users, ${fmtInt(result.legit.tried)} verify | ${fmtInt(result.legit.verified)} verified, ${fmtInt(result.legit.gotCode)} got their code | ${pct(result.legit.share)} | at least 99%: ${result.legit.share >= result.targets.legitSuccessMin ? '**met**' : `**missed** by ${fmt((result.targets.legitSuccessMin - result.legit.share) * 100, 2)} points`} |`,
    '',
    '| attacked prefix | requests | admitted | SMS | blocked by | from attack start to block, real / synthetic |',
    '|---|---:|---:|---:|---|---|',
    ...result.prefixes.map(
      (row) =>
        `| \`${row.prefix}\` | ${fmtInt(row.requests)} | ${row.admitted} | ${row.sms} | ${row.reason ? `${row.reason} (${row.note})` : 'not blocked'} | ${row.secondsToBlock === null ? 'n/a' : `${fmt(row.secondsToBlock, 1)} s / ${fmt(row.secondsToBlock * result.factor, 0)} s`} |`,
    ),
    '',
    `Legitimate outcomes: ${Object.entries(result.legit.outcomes)
      .map(([name, count]) => `${name} ${count}`)
      .join(', ')}; ${pct(result.legit.conversion)} of delivered codes were verified. ` +
      `SMS delay (request to provider call): p50 ${fmt(result.smsDelay.p50Ms, 0)} ms, p99 ${fmt(result.smsDelay.p99Ms, 0)} ms. ` +
      `Legitimate prefixes blocked: ${result.legitPrefixesBlocked.length ? result.legitPrefixesBlocked.map((block) => `\`${block.prefix}\` (${block.reason})`).join(', ') : 'none'}.`,
  ];
  return lines.join('\n');
}

function renderSpreadBlock(result) {
  const machine = machineInfo();
  const pct = (value) => `${fmt(value * 100, 2)}%`;
  const { spread } = result;
  const slow = result.attackMode === 'slow';
  const target = slow
    ? `cost stated: **${fmtInt(Math.round(spread.smsPerSyntheticHour))} SMS an hour**`
    : `at most 5%: ${result.attack.share <= result.targets.attackSmsShareMax ? '**met**' : `**missed** by ${fmt((result.attack.share - result.targets.attackSmsShareMax) * 100, 2)} points`}`;
  const allReturning = spread.returning.verified === spread.returning.visits;
  const lines = [
    `Measured ${machine.date.slice(0, 10)} with \`npm run bench:pumping -- --attack ${result.attackMode}\` (${fmt(result.seconds / 60, 1)} min) on ${machine.nproc} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}, wrangler ${machine.wrangler}, workerd ${machine.workerd}.`,
    `Scaled as above, and \`STEP_UP_WINDOW_SECONDS=${result.scaledVars.STEP_UP_WINDOW_SECONDS}\`, \`STEP_UP_GRACE_SECONDS=${result.scaledVars.STEP_UP_GRACE_SECONDS}\`, \`STEP_UP_TRICKLE=${result.scaledVars.STEP_UP_TRICKLE}\` (\`STEP_UP_REFRESH_SECONDS\` stays at its minimum, 1 s: 10 synthetic seconds).`,
    '',
    '| population | volume | outcome | share | target |',
    '|---|---:|---:|---:|---|',
    `| attack (${result.attackMode}: random numbers over ${spread.prefixes} prefixes of +91, ${result.attack.ratePerSecondReal}/s real = ${result.attack.ratePerSecondSynthetic}/s synthetic, a fresh address each, never verifying, never solving Turnstile) | ${fmtInt(result.attack.requests)} requests | ${result.attack.sms} SMS | ${pct(result.attack.share)} | ${target} |`,
    `| legitimate users (${fmt(result.legit.abandonRate * 100, 0)}% abandon; browser sends, Turnstile solved when asked) | ${fmtInt(result.legit.users)} visits, ${fmtInt(result.legit.tried)} verify | ${fmtInt(result.legit.verified)} verified, ${fmtInt(result.legit.gotCode)} got their code | ${pct(result.legit.share)} | at least 99%: ${result.legit.share >= result.targets.legitSuccessMin ? '**met**' : '**missed**'} |`,
    `| returning users (verified earlier in the hour, back later) | ${spread.returning.visits} visits | ${spread.returning.verified} verified | ${pct(spread.returning.visits ? spread.returning.verified / spread.returning.visits : 1)} | all: ${allReturning ? '**met**' : '**missed**'} |`,
    '',
    `\`${spread.scope}\`: ${spread.changes.length ? spread.changes.map((change) => `${change.mode === 'stepped_up' ? 'stepped up' : 'relaxed'} at synthetic minute ${fmt(change.syntheticMinute, 1)}${change.conversion === null ? '' : ` (conversion ${pct(change.conversion)} of ${change.settledSends} settled sends)`}`).join('; ') : 'never stepped up'}. ` +
      `Attack requests refused: ${
        Object.entries(spread.refusedByCode)
          .map(([code, count]) => `${code} ${fmtInt(count)}`)
          .join(', ') || 'none'
      }. ` +
      `Legitimate visits asked for Turnstile: ${spread.challenged} (${spread.challengedVerified} of them verified). Attacked prefixes blocked by the per-prefix defence: ${spread.attackPrefixesBlocked}. ` +
      `Legitimate outcomes: ${Object.entries(result.legit.outcomes)
        .map(([name, count]) => `${name} ${count}`)
        .join(', ')}. SMS delay p50 ${fmt(result.smsDelay.p50Ms, 0)} ms, p99 ${fmt(result.smsDelay.p99Ms, 0)} ms.`,
  ];
  return lines.join('\n');
}

function writeDocBlock(path, mode, block) {
  const start = `<!-- pumping:${mode}:start -->`;
  const end = `<!-- pumping:${mode}:end -->`;
  const text = readFileSync(path, 'utf8');
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${path} has no ${start} ... ${end} block`);
  writeFileSync(path, `${text.slice(0, from + start.length)}\n${block}\n${text.slice(to)}`);
}
