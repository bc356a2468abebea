#!/usr/bin/env node
/**
 * Time to first SMS while the primary provider is down, with failover and without:
 * `npm run bench:failover` (`-- --json <path>` writes the result for docs/benchmarks.md).
 *
 * StartMessaging (the stand-in) answers every call with 500; the Twilio stand-in is healthy. Codes
 * are asked for at a steady rate (open loop) and each request's time to first SMS is its `sentAt`
 * less its `createdAt`, read from the admin API.
 *
 *   with failover:    PROVIDER_ORDER=startmessaging,twilio, FAILOVER_AFTER_SECONDS at its default (2)
 *   without failover: PROVIDER_ORDER=startmessaging alone, with a 60 s code lifetime so that the
 *                     run ends: no request is ever sent, each ends `expired` or `failed`
 *
 * Options: --requests N (120), --rate R per second (10), --json <path>.
 */
import { writeFileSync } from 'node:fs';
import { createDevStack } from '../scripts/lib/dev-stack.mjs';
import { http } from '../scripts/lib/http.mjs';
import { LOCAL_DEV_SECRETS } from '../scripts/lib/local-dev-secrets.mjs';
import { percentile } from '../scripts/lib/stats.mjs';
import { startStandIn } from '../scripts/startmessaging-stand-in.mjs';
import { startTwilioStandIn } from '../scripts/twilio-stand-in.mjs';
import { machineCpu, mapLimit, parseArgs, sleep } from './lib/harness.mjs';

const options = parseArgs(process.argv.slice(2), { requests: 120, rate: 10, json: '' });
const REQUESTS = Number(options.requests);
const RATE = Number(options.rate);
const ADMIN = { Authorization: `Bearer ${LOCAL_DEV_SECRETS.ADMIN_TOKEN}` };
const APP = { Authorization: 'Bearer sk_dev_local_development_secret_key' };
const FINAL = new Set(['sent', 'delivered', 'failed', 'expired', 'verified', 'superseded']);
const OVERRIDES = ['IP_LIMITS:100000/60', 'PREFIX_LIMITS:100000/60', 'SEQUENTIAL_BURST_NUMBERS:1000', 'PUMPING_MIN_SENDS:100000', 'STEP_UP_MIN_SENDS:1000000'];

async function measure(label, { order, extraVars = [], block, drainMs }) {
  const sm = await startStandIn({ latencyMs: 30, failRate: 1, seed: 7 });
  const twilio = await startTwilioStandIn({ latencyMs: 30 });
  const stack = createDevStack({
    label: `otpd-bench-failover-${label}`,
    vars: [
      'PROVIDER_MODE:startmessaging',
      `PROVIDER_ORDER:${order}`,
      `SM_BASE_URL:${sm.url}`,
      'SM_API_KEY:bench-key',
      `TWILIO_BASE_URL:${twilio.url}`,
      `TWILIO_ACCOUNT_SID:${twilio.accountSid}`,
      `TWILIO_AUTH_TOKEN:${twilio.authToken}`,
      'TWILIO_FROM:+15005550006',
      'TWILIO_RATE_PER_SECOND:20',
      ...OVERRIDES,
      ...extraVars,
    ],
  });
  try {
    await stack.start({ healthTimeoutMs: 90_000 });
    const base = stack.base;
    const since = Date.now() - 1000;
    const cpuBefore = machineCpu();
    const phones = Array.from({ length: REQUESTS }, (_, i) => `+9197${block}${String(i).padStart(7, '0')}`); // 10 digits after +91
    const started = Date.now();
    const ids = await mapLimit(phones, 16, async (phoneNumber, index) => {
      // Open loop: each request at its own time, whatever the others are doing.
      await sleep(Math.max(0, started + (index * 1000) / RATE - Date.now()));
      const answer = await http('POST', `${base}/v1/otp`, { body: { phoneNumber }, headers: APP, timeoutMs: 15_000 });
      return answer.json?.requestId;
    });
    const views = new Map();
    const deadline = Date.now() + drainMs;
    while (Date.now() < deadline) {
      let cursor = null;
      do {
        const answer = await http('GET', `${base}/v1/admin/requests?since=${since}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, {
          headers: ADMIN,
        });
        for (const view of answer.json?.requests ?? []) views.set(view.requestId, view);
        cursor = answer.json?.nextCursor ?? null;
      } while (cursor);
      if (ids.every((id) => FINAL.has(views.get(id)?.status))) break;
      await sleep(2000);
    }
    const cpuAfter = machineCpu();
    const finals = ids.map((id) => views.get(id));
    const toFirstSms = finals
      .filter((view) => view?.sentAt)
      .map((view) => Date.parse(view.sentAt) - Date.parse(view.createdAt))
      .sort((a, b) => a - b);
    const byStatus = {};
    for (const view of finals) byStatus[view?.status ?? 'unknown'] = (byStatus[view?.status ?? 'unknown'] ?? 0) + 1;
    const endedAfter = finals
      .filter((view) => view && !view.sentAt)
      .map((view) => Date.parse(view.updatedAt) - Date.parse(view.createdAt))
      .sort((a, b) => a - b);
    return {
      order,
      requests: REQUESTS,
      ratePerSecond: RATE,
      sent: toFirstSms.length,
      byStatus,
      firstSmsMs: { p50: percentile(toFirstSms, 50, null), p99: percentile(toFirstSms, 99, null), max: toFirstSms.at(-1) ?? null },
      unsentEndedAfterMs: { p50: percentile(endedAfter, 50, null), max: endedAfter.at(-1) ?? null },
      providerCalls: { startmessaging: sm.stats().calls, twilio: twilio.stats().calls },
      machineBusyShare: (cpuAfter.busyMs - cpuBefore.busyMs) / Math.max(1, cpuAfter.totalMs - cpuBefore.totalMs),
    };
  } finally {
    await stack.stop();
    await sm.close();
    await twilio.close();
  }
}

const startedAt = Date.now();
const withFailover = await measure('with', { order: 'startmessaging,twilio', block: '1', drainMs: 120_000 });
console.log(`with failover: ${withFailover.sent}/${REQUESTS} sent; first SMS p50 ${withFailover.firstSmsMs.p50} ms, p99 ${withFailover.firstSmsMs.p99} ms`);
const withoutFailover = await measure('without', { order: 'startmessaging', extraVars: ['OTP_TTL_SECONDS:60'], block: '2', drainMs: 150_000 });
console.log(`without failover: ${withoutFailover.sent}/${REQUESTS} sent; ${JSON.stringify(withoutFailover.byStatus)}`);
const result = { withFailover, withoutFailover, seconds: (Date.now() - startedAt) / 1000 };
if (options.json) writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
