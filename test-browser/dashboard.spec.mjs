#!/usr/bin/env node
/**
 * The operator dashboard in a real headless browser: `npm run test:browser`.
 *
 * Starts `wrangler dev` (sandbox provider, throwaway local state, fast delivery reports), sends
 * some traffic through the public API (including the sandbox's misbehaving numbers), then drives
 * Debian's Chromium with playwright-core: signs in (a wrong token first), reads the charts and
 * tables, filters the attempts, opens a request's timeline, runs a dry-run resend and then the
 * resend itself, and checks the page on a phone-sized screen. Screenshots go to a temporary
 * directory whose path is printed. Ends with one line: `N passed, M failed` (also written as JSON to
 * $BROWSER_RESULTS_FILE when set, for the CI summary).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { sleep } from '../scripts/lib/async.mjs';
import { createDevStack } from '../scripts/lib/dev-stack.mjs';
import { LOCAL_DEV_SECRETS } from '../scripts/lib/local-dev-secrets.mjs';
import { ROOT } from '../scripts/lib/wrangler.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run',
];
// What `npm run dev` writes to .dev.vars; the dev stack passes it with --var.
const DEV_TOKEN = LOCAL_DEV_SECRETS.ADMIN_TOKEN;
const OVERALL_TIMEOUT_MS = 300_000;
const NUMBERS = {
  ok: ['+919800000001', '+919800000002', '+919800000003', '+447700900001'],
  rejected: '+15555550100',
  unavailable: '+15555550101',
  flaky: '+15555550103',
  undeliverable: '+15555550104',
};

const results = [];
let server;
let browser;

async function check(name, fn) {
  try {
    await fn();
    results.push(true);
    console.log(`ok    ${name}`);
  } catch (error) {
    results.push(false);
    console.log(`FAIL  ${name}\n      ${String(error?.message ?? error).split('\n').slice(0, 6).join('\n      ')}`);
  }
}

async function cleanup() {
  await browser?.close().catch(() => {});
  await server?.stop().catch(() => {});
}

function finish() {
  const passed = results.filter(Boolean).length;
  const failed = results.length - passed;
  console.log(`${passed} passed, ${failed} failed`);
  if (process.env.BROWSER_RESULTS_FILE) writeFileSync(process.env.BROWSER_RESULTS_FILE, JSON.stringify({ passed, failed }));
  process.exit(failed || results.length === 0 ? 1 : 0);
}

const overall = setTimeout(async () => {
  console.log(`FAIL  overall timeout after ${OVERALL_TIMEOUT_MS / 1000} s`);
  results.push(false);
  await cleanup();
  finish();
}, OVERALL_TIMEOUT_MS);
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, async () => (await cleanup(), process.exit(1)));

async function api(path, init = {}) {
  const response = await fetch(`${server.base}${path}`, {
    ...init,
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${DEV_TOKEN}`, ...(init.headers ?? {}) },
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: await response.json() };
}

async function waitForStatus(requestId, wanted, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = (await api(`/v1/otp/${requestId}`)).body.status;
    if (wanted.includes(last)) return last;
    await sleep(300);
  }
  throw new Error(`${requestId} stayed ${last}, wanted ${wanted.join('/')}`);
}

/** A new page that fails the test on any script error or console error (a CSP violation is one). */
async function newPage(context) {
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (error) => page.problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    // A refused token answers 401 on purpose; the browser logs that fetch as an error.
    if (message.type() === 'error' && !/status of 401/.test(message.text())) page.problems.push(`console: ${message.text()}`);
  });
  page.on('dialog', (dialog) => dialog.accept());
  return page;
}

async function signIn(page, token) {
  await page.getByTestId('token-input').fill(token);
  await page.getByTestId('sign-in').click();
}

async function main() {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  const shots = mkdtempSync(join(tmpdir(), 'otpd-dashboard-'));
  server = createDevStack({
    label: 'otpd-browser',
    vars: { DELIVERY_CHECK_BASE_SECONDS: '1', SEND_RETRY_BASE_SECONDS: '1', SEND_RETRY_MAX_SECONDS: '2' },
    cwd: ROOT, // the working tree as it is, as `npm run dev` runs it
  });
  await server.start({ healthTimeoutMs: 90_000 });
  console.log(`wrangler dev on ${server.base}; screenshots in ${shots}`);

  // Traffic: good numbers, a rejected one, an undeliverable one, a flaky one, one whose provider is down.
  const ids = {};
  for (const phoneNumber of [...NUMBERS.ok, NUMBERS.rejected, NUMBERS.undeliverable, NUMBERS.flaky, NUMBERS.unavailable]) {
    const { status, body } = await api('/v1/otp', { method: 'POST', body: JSON.stringify({ phoneNumber }), headers: { Authorization: '' } });
    assert.equal(status, 202, `POST /v1/otp for ${phoneNumber}`);
    ids[phoneNumber] = body.requestId;
  }
  await check('traffic settles: delivered, failed at send, failed at delivery, flaky sent', async () => {
    for (const phone of NUMBERS.ok) await waitForStatus(ids[phone], ['delivered']);
    await waitForStatus(ids[NUMBERS.rejected], ['failed']);
    await waitForStatus(ids[NUMBERS.undeliverable], ['failed']);
    await waitForStatus(ids[NUMBERS.flaky], ['sent', 'delivered']);
  });

  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await newPage(desktop);
  await page.goto(`${server.base}/admin`);

  await check('the page asks for the token, and refuses a wrong one', async () => {
    await page.getByTestId('sign-in-panel').waitFor({ state: 'visible' });
    assert.match(await page.getByTestId('development-hint').innerText(), /ADMIN_TOKEN in \.dev\.vars/);
    await signIn(page, 'not-the-token');
    await page.getByTestId('sign-in-error').filter({ hasText: 'refused' }).waitFor();
    assert.equal(await page.getByTestId('dashboard').isVisible(), false);
  });

  await check('signed in, it shows the numbers, the sends chart, latency and top errors', async () => {
    await signIn(page, DEV_TOKEN);
    await page.getByTestId('dashboard').waitFor({ state: 'visible' });
    await page.getByTestId('card-requests').filter({ hasText: /\d/ }).waitFor();
    const requests = Number((await page.getByTestId('card-requests').locator('.value').innerText()).trim());
    assert.ok(requests >= 8, `requests card says ${requests}`);
    assert.ok((await page.getByTestId('sends-chart').locator('rect[data-outcome="sent"]').count()) >= 1, 'a sent bar');
    assert.ok((await page.getByTestId('sends-chart').locator('rect[data-outcome="failed"]').count()) >= 1, 'a failed bar');
    assert.match(await page.getByTestId('latency-percentiles').innerText(), /p50 \d+ ms · p95 \d+ ms · p99 \d+ ms/);
    const errors = await page.getByTestId('top-errors').innerText();
    assert.match(errors, /provider_rejected_request/);
    assert.match(errors, /provider_delivery_failed/);
    assert.match(await page.getByTestId('card-delivered').innerText(), /%/);
  });

  await check('the attempts table filters by outcome and by phone', async () => {
    await page.getByTestId('attempt-row').first().waitFor();
    await page.getByTestId('filter-outcome').selectOption('failed');
    await page.getByTestId('filter-apply').click();
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-testid="attempt-row"]')];
      return rows.length > 0 && rows.every((row) => row.dataset.outcome === 'failed');
    });
    await page.getByTestId('filter-outcome').selectOption('');
    await page.getByTestId('filter-phone').fill(NUMBERS.flaky);
    await page.getByTestId('filter-apply').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="attempt-row"]').length === 3);
    const text = await page.getByTestId('attempts-table').innerText();
    assert.ok(text.includes(NUMBERS.flaky));
    assert.match(text, /retry/);
  });

  await check('a request opens with its timeline', async () => {
    await page.getByTestId('filter-phone').fill(NUMBERS.rejected);
    await page.getByTestId('filter-apply').click();
    await page.waitForFunction((phone) => {
      const rows = [...document.querySelectorAll('[data-testid="attempt-row"]')];
      return rows.length === 1 && rows[0].innerText.includes(phone);
    }, NUMBERS.rejected);
    await page.getByTestId('open-request').first().click();
    await page.getByTestId('timeline-event').first().waitFor();
    assert.equal(await page.getByTestId('request-id').innerText(), ids[NUMBERS.rejected]);
    assert.match(await page.getByTestId('request-status').innerText(), /failed/);
    const events = await page.getByTestId('timeline-event').evaluateAll((items) => items.map((item) => item.dataset.event));
    assert.ok(events.includes('created') && events.includes('attempt') && events.at(-1) === 'failed', `events: ${events}`);
  });

  await page.screenshot({ path: join(shots, 'desktop.png'), fullPage: true });

  let matched = 0;
  await check('a dry-run resend counts what the API counts, and changes nothing', async () => {
    const since = await page.getByTestId('resend-since').inputValue();
    assert.match(since, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/);
    const before = (await api('/v1/admin/requests?limit=500')).body.requests.length;
    await page.getByTestId('resend-dry-run').click();
    await page.getByTestId('resend-result').filter({ hasText: 'Dry run' }).waitFor();
    matched = Number(await page.getByTestId('resend-result').getAttribute('data-matched'));
    const expected = await api('/v1/admin/resends', {
      method: 'POST',
      body: JSON.stringify({ filter: { status: ['failed', 'expired'], since: new Date(since).toISOString() }, dryRun: true }),
    });
    assert.ok(matched >= 2, `matched ${matched}`);
    assert.equal(matched, expected.body.matched);
    assert.equal(await page.getByTestId('resend-run').isEnabled(), true);
    assert.equal((await api('/v1/admin/requests?limit=500')).body.requests.length, before);
  });

  await check('the resend runs through the queue: one new SMS for the undeliverable phone, and the job is done', async () => {
    const sandboxBefore = (await api(`/v1/sandbox/messages?phoneNumber=${encodeURIComponent(NUMBERS.undeliverable)}`)).body.messages;
    assert.equal(sandboxBefore.length, 1);
    await page.getByTestId('resend-run').click();
    await page.getByTestId('resend-result').filter({ hasText: 'done.' }).waitFor({ timeout: 30_000 });
    const deadline = Date.now() + 30_000;
    let messages = sandboxBefore;
    while (messages.length < 2 && Date.now() < deadline) {
      await sleep(300);
      messages = (await api(`/v1/sandbox/messages?phoneNumber=${encodeURIComponent(NUMBERS.undeliverable)}`)).body.messages;
    }
    assert.equal(messages.length, 2, 'exactly one new SMS for the phone');
    assert.notEqual(messages[0].requestId, messages[1].requestId);
    await page.getByTestId('resend-row').first().waitFor();
    const { body: jobs } = await api('/v1/admin/resends');
    assert.equal(jobs.resends[0].done, true);
    assert.equal(jobs.resends[0].matched, matched);
  });

  await check('the token survives a reload in the same tab, and signing out forgets it', async () => {
    await page.reload();
    await page.getByTestId('dashboard').waitFor({ state: 'visible' });
    await page.getByTestId('sign-out').click();
    await page.getByTestId('sign-in-panel').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const small = await newPage(phone);
  await small.goto(`${server.base}/admin`);
  await check('on a phone-sized screen the page fits its width', async () => {
    await signIn(small, DEV_TOKEN);
    await small.getByTestId('card-requests').filter({ hasText: /\d/ }).waitFor();
    await small.getByTestId('attempt-row').first().waitFor();
    const widths = await small.evaluate(() => ({ page: document.documentElement.scrollWidth, screen: window.innerWidth }));
    assert.ok(widths.page <= widths.screen, `page is ${widths.page}px wide on a ${widths.screen}px screen`);
    await small.screenshot({ path: join(shots, 'phone.png'), fullPage: true });
    await small.screenshot({ path: join(shots, 'phone-top.png') });
    await small.getByTestId('attempts-table').screenshot({ path: join(shots, 'phone-attempts.png') });
    await small.getByTestId('resend-form').screenshot({ path: join(shots, 'phone-resend.png') });
  });

  await check('no script error and no blocked resource on either page', async () => {
    assert.deepEqual([...page.problems, ...small.problems], []);
  });
}

try {
  await main();
} catch (error) {
  results.push(false);
  console.log(`FAIL  ${error?.stack ?? error}`);
  for (const line of server?.logTail(30) ?? []) console.log(line);
}
clearTimeout(overall);
await cleanup();
finish();
