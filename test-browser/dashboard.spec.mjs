#!/usr/bin/env node
/**
 * The operator dashboard in a real headless browser: `npm run test:browser`.
 *
 * Starts `wrangler dev` (sandbox provider, throwaway local state, fast delivery reports), sends
 * some traffic through the public API as the development app (including the sandbox's misbehaving
 * numbers), then drives Debian's Chromium with playwright-core: signs in (a wrong token first),
 * reads the charts and tables (the range fitted to the data, a stuck request in the headline, an
 * empty range shown as such), filters the attempts, opens a request's timeline, lifts a prefix
 * block, lists and lifts a locked phone, runs a dry-run resend and then the resend itself, walks
 * through the apps section (creates an app and sees its keys once, rotates and revokes keys, edits
 * settings, disables and enables the app, sets, rotates and removes its webhook, under an
 * operator name), and checks on a phone-sized screen that the page and every table fit; then that
 * the API reference (Swagger UI) lists every operation, sends the key given to Authorize (kept in
 * the tab) and lets an operator call an admin route with the token. Screenshots go to a temporary
 * directory whose path is printed. Ends
 * with one line: `N passed, M failed` (also written as JSON to
 * $BROWSER_RESULTS_FILE when set, for the CI summary).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { sleep } from '../scripts/lib/async.mjs';
import { createDevStack } from '../scripts/lib/dev-stack.mjs';
import { DEV_APP, DEV_APP_AUTH, LOCAL_DEV_SECRETS } from '../scripts/lib/local-dev-secrets.mjs';
import { ROOT } from '../scripts/lib/wrangler.mjs';
import { CHROMIUM, CHROMIUM_ARGS, checkRun } from './lib/check-run.mjs';

// What `npm run dev` writes to .dev.vars; the dev stack passes it with --var.
const DEV_TOKEN = LOCAL_DEV_SECRETS.ADMIN_TOKEN;
const OVERALL_TIMEOUT_MS = 300_000;
const NUMBERS = {
  ok: ['+919800000001', '+919800000002', '+919800000003', '+447400900001'],
  rejected: '+15555550100',
  unavailable: '+15555550101',
  flaky: '+15555550103',
  undeliverable: '+15555550104',
  stuck: '+919800000099',
  locked: '+919800000077',
  // Sends with the apps' keys: each in its own destination prefix and number block.
  apps: ['+919711100061', '+919622200062', '+918533300063', '+917444400064', '+916355500065'],
  // The API reference's sends: each in a destination prefix and number block of its own, as above.
  docs: ['+919733300071', '+918644400072', '+917755500073'],
};
// A second app with one failed request, written straight to D1 (the development app makes the rest).
const SECOND_APP = { id: 'app_browsersecond', name: 'Second app', requestId: 'otp_SecondAppSecondApp0001', phone: '+919800000055' };
const BLOCKS = [
  { prefix: '+88216', durationSeconds: 3600, note: 'premium range, lifted by the test' },
  { prefix: '+88217', durationSeconds: 3600, note: 'premium range: a longer note that has to wrap on a phone-sized screen' },
];

let server;
let browser;

async function cleanup() {
  await browser?.close().catch(() => {});
  await server?.stop().catch(() => {});
}

const { check, fail, end } = checkRun({ timeoutMs: OVERALL_TIMEOUT_MS, cleanup });

/** A call to this server with the admin token, unless `init.headers` gives another (the app routes take the development app's key). */
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
    last = (await api(`/v1/otp/${requestId}`, { headers: DEV_APP_AUTH })).body.status;
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
    // A refused token answers 401 on purpose, a service without the locked-phones route 404 (and
    // the apps route, as the app selector's test stubs it), settings and webhook URLs the server
    // refuses 400, and an app without a webhook 404; the browser logs those fetches as errors.
    const expected =
      /status of 401/.test(message.text()) ||
      (/status of 404/.test(message.text()) && /\/v1\/admin\/(locked-phones|apps)$/.test(message.location().url)) ||
      (/status of 400/.test(message.text()) && /\/v1\/admin\/apps\/app_[^/]+(\/webhook)?$/.test(message.location().url)) ||
      (/status of 404/.test(message.text()) && /\/v1\/admin\/apps\/app_[^/]+\/webhook$/.test(message.location().url));
    if (message.type() === 'error' && !expected) page.problems.push(`console: ${message.text()}`);
  });
  // A prompt (the rotation's overlap) gets `page.promptAnswer`, else its default.
  page.on('dialog', (dialog) => dialog.accept(dialog.type() === 'prompt' ? (page.promptAnswer ?? dialog.defaultValue()) : undefined));
  return page;
}

/**
 * Answers the page's locked-phones calls with the API's documented shape (list and lift), whether
 * or not this service has the route; `calls` records each one.
 */
const LOCKED_PHONES_ROUTE = /\/v1\/admin\/locked-phones(\/|\?|$)/;
const STATS_ROUTE = /\/v1\/admin\/stats\?/;

async function stubLockedPhones(page, calls) {
  let locked = [{ phoneNumber: NUMBERS.locked, failures: 10, lockedUntil: new Date(Date.now() + 3_600_000).toISOString() }];
  await page.route(LOCKED_PHONES_ROUTE, async (route) => {
    const request = route.request();
    calls.push(`${request.method()} ${new URL(request.url()).pathname}`);
    if (request.method() === 'DELETE') {
      const lifted = locked[0];
      locked = [];
      return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ lifted }) });
    }
    return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ lockedPhones: locked }) });
  });
}

/** Tables whose content is wider than the box that shows it: cut off on this screen. */
const cutOffTables = (page) =>
  page.evaluate(() =>
    [...document.querySelectorAll('main table')]
      .filter((table) => table.offsetParent !== null)
      .filter((table) => table.scrollWidth > table.parentElement.clientWidth + 1 || table.getBoundingClientRect().right > window.innerWidth + 1)
      .map((table) => `${table.dataset.testid}: ${table.scrollWidth}px in ${table.parentElement.clientWidth}px`),
  );

async function signIn(page, token) {
  await page.getByTestId('token-input').fill(token);
  await page.getByTestId('sign-in').click();
}

/**
 * POST /v1/otp with an app's key; answers the status. From a client address of its own: with the
 * traffic above, on a fast machine the walk-through's sends would otherwise reach the per-address
 * limit (10 a minute) and be refused for that, not for the key.
 */
async function sendWithKey(key, phoneNumber) {
  const response = await fetch(`${server.base}/v1/otp`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}`, 'CF-Connecting-IP': '198.51.100.7' },
    body: JSON.stringify({ phoneNumber }),
    signal: AbortSignal.timeout(10_000),
  });
  await response.arrayBuffer();
  return response.status;
}

/** Waits until a call with `key` answers `status`: a change reaches other Worker instances within 30 s. */
async function waitForKeyStatus(key, status, phoneNumber) {
  const deadline = Date.now() + 35_000;
  let last;
  while (Date.now() < deadline) {
    last = await sendWithKey(key, phoneNumber);
    if (last === status) return;
    await sleep(500);
  }
  throw new Error(`a call with ${key.slice(0, 11)}… kept answering ${last}, wanted ${status}`);
}

async function appsWalkThrough(page, shots) {
  const operator = 'Browser Test';
  await page.getByTestId('operator-name').fill(operator);
  await page.getByTestId('operator-name').press('Tab');
  await page.getByTestId('new-app-name').fill('Browser shop');
  await page.getByTestId('app-create-submit').click();
  const box = page.getByTestId('new-keys');
  await box.waitFor({ state: 'visible' });
  const secret = await box.locator('[data-testid="new-key"][data-kind="secret"]').innerText();
  const publishable = await box.locator('[data-testid="new-key"][data-kind="publishable"]').innerText();
  assert.match(secret, /^sk_[A-Za-z0-9]{40}$/);
  assert.match(publishable, /^pk_[A-Za-z0-9]{40}$/);
  assert.match(await box.innerText(), /never shown again/);
  assert.equal(await box.getByTestId('copy-key').count(), 2);
  assert.equal(await sendWithKey(secret, NUMBERS.apps[0]), 202, 'a send with the new secret key');

  const row = page.locator('[data-testid="app-row"]').filter({ has: page.locator('[data-testid="app-name"]', { hasText: /^Browser shop$/ }) });
  await row.getByTestId('key-row').nth(1).waitFor();
  const appId = await row.getAttribute('data-app-id');
  const { body: created } = await api(`/v1/admin/apps/${appId}`);
  const secretId = created.app.keys.find((key) => key.kind === 'secret').id;
  const publishableId = created.app.keys.find((key) => key.kind === 'publishable').id;
  assert.equal(await row.locator(`[data-key-id="${secretId}"]`).getByTestId('key-prefix').innerText(), `${secret.slice(0, 11)}…`);
  assert.equal(await row.locator('[data-testid="key-row"][data-state="active"]').count(), 2);
  await row.screenshot({ path: join(shots, 'app-created.png') });

  // Shown once: dismissed, the keys are nowhere on the page, and no listing brings them back.
  await page.getByTestId('new-keys-done').click();
  await box.waitFor({ state: 'hidden' });
  await page.getByTestId('refresh').click();
  await row.getByTestId('key-row').nth(1).waitFor();
  const html = await page.content();
  assert.ok(!html.includes(secret) && !html.includes(publishable), 'a key is still on the page');

  // Rotation with no overlap: the old key stops, the new one works.
  page.promptAnswer = '0';
  await row.locator(`[data-key-id="${secretId}"]`).getByTestId('rotate-key').click();
  await box.waitFor({ state: 'visible' });
  const rotated = await box.locator('[data-testid="new-key"][data-kind="secret"]').innerText();
  assert.match(rotated, /^sk_[A-Za-z0-9]{40}$/);
  assert.notEqual(rotated, secret);
  await row.locator(`[data-testid="key-row"][data-key-id="${secretId}"][data-state="expired"]`).waitFor();
  await waitForKeyStatus(secret, 401, NUMBERS.apps[1]);
  assert.equal(await sendWithKey(rotated, NUMBERS.apps[2]), 202, 'a send with the rotated key');
  await page.getByTestId('new-keys-done').click();

  await row.locator(`[data-key-id="${publishableId}"]`).getByTestId('revoke-key').click();
  await row.locator(`[data-testid="key-row"][data-key-id="${publishableId}"][data-state="revoked"]`).waitFor();

  // Settings are checked by the server, whose message is shown; valid ones are saved.
  await row.getByTestId('app-settings').locator('summary').click();
  await row.getByTestId('settings-json').fill('{ "otpLength": 12 }');
  await row.getByTestId('settings-save').click();
  await row.getByTestId('settings-error').filter({ hasText: 'settings.otpLength' }).waitFor();
  await row.getByTestId('settings-json').fill('{ "otpLength": 8, "allowedOrigins": ["https://shop.example"] }');
  await row.getByTestId('settings-save').click();
  await row.getByTestId('settings-status').filter({ hasText: 'Saved' }).waitFor();
  assert.deepEqual((await api(`/v1/admin/apps/${appId}`)).body.app.settings, { otpLength: 8, allowedOrigins: ['https://shop.example'] });

  await row.getByTestId('app-disable').click();
  await row.getByTestId('app-state').filter({ hasText: 'disabled' }).waitFor();
  await waitForKeyStatus(rotated, 401, NUMBERS.apps[3]);
  await row.getByTestId('app-enable').click();
  await row.getByTestId('app-state').filter({ hasText: 'enabled' }).waitFor();
  await waitForKeyStatus(rotated, 202, NUMBERS.apps[4]);

  await row.getByTestId('app-history').locator('summary').click();
  await row.getByTestId('app-change').nth(5).waitFor();
  const { body: detail } = await api(`/v1/admin/apps/${appId}`);
  assert.deepEqual(
    detail.changes.map((change) => change.action),
    ['app.enabled', 'app.disabled', 'app.updated', 'key.revoked', 'key.rotated', 'app.created'],
  );
  assert.ok(
    detail.changes.every((change) => change.actor === operator),
    JSON.stringify(detail.changes.map((change) => change.actor)),
  );
  const history = await row.getByTestId('app-changes').innerText();
  assert.ok(!history.includes(secret) && !history.includes(rotated), 'a key in the change log');

  await webhookWalkThrough(page, row, appId);
  await page.getByTestId('apps-panel').screenshot({ path: join(shots, 'apps.png') });
}

/**
 * Executes an open operation on the API reference page (with `body` as its JSON body): answers the
 * API's status and text and the Authorization the page sent, once the page shows that status.
 */
async function executeOperation(page, operation, body) {
  if (body) await operation.locator('textarea.body-param__text').fill(JSON.stringify(body));
  const clear = operation.getByRole('button', { name: 'Clear' });
  if (await clear.count()) await clear.click();
  const [response] = await Promise.all([
    page.waitForResponse((candidate) => candidate.request().resourceType() === 'fetch' && !candidate.url().endsWith('/openapi.json')),
    operation.getByRole('button', { name: 'Execute' }).click(),
  ]);
  const status = response.status();
  await operation
    .locator('.live-responses-table .response-col_status')
    .filter({ hasText: String(status) })
    .waitFor();
  return { status, body: await response.text(), authorization: response.request().headers().authorization };
}

/** Gives a security scheme its value in Swagger UI's Authorize dialog, or (`null`) logs out of it. */
async function authorizeScheme(page, scheme, value) {
  await page.locator('.scheme-container button.authorize').click();
  const box = page.locator('.auth-container').filter({ has: page.locator('h4', { hasText: new RegExp(`^${scheme}\\b`) }) });
  if (value === null) {
    await box.locator('button', { hasText: 'Logout' }).click();
  } else {
    await box.locator('input').fill(value);
    await box.locator('button', { hasText: 'Authorize' }).click();
  }
  await page.getByRole('button', { name: 'Close' }).first().click();
}

/** The app's webhook: a refused URL's reason shown, its secret shown once, rotated, then removed. */
async function webhookWalkThrough(page, row, appId) {
  const box = page.getByTestId('new-keys');
  await row.getByTestId('app-webhook').locator('summary').click();
  await row.getByTestId('webhook-none').waitFor();
  await row.getByTestId('webhook-url-input').fill('https://10.0.0.1/hook');
  await row.getByTestId('webhook-save').click();
  await page.getByTestId('apps-error').filter({ hasText: 'webhook_url_refused' }).waitFor();
  // Plain http to this machine is allowed locally (nothing listens on port 9: posts only fail).
  await row.getByTestId('webhook-url-input').fill('http://127.0.0.1:9/hook');
  await row.getByTestId('webhook-save').click();
  await box.waitFor({ state: 'visible' });
  const first = await box.locator('[data-testid="new-key"]').innerText();
  assert.match(first, /^whsec_[A-Za-z0-9+/]{43}=$/);
  await page.getByTestId('new-keys-done').click();
  await row.getByTestId('webhook-url').filter({ hasText: 'http://127.0.0.1:9/hook' }).waitFor();
  page.promptAnswer = '0';
  await row.getByTestId('webhook-rotate').click();
  await box.waitFor({ state: 'visible' });
  assert.notEqual(await box.locator('[data-testid="new-key"]').innerText(), first);
  await page.getByTestId('new-keys-done').click();
  assert.ok(!(await page.content()).includes(first.slice(6)), 'a webhook secret is still on the page');
  await row.getByTestId('webhook-remove').click();
  await row.getByTestId('webhook-none').waitFor();
  const { body } = await api(`/v1/admin/apps/${appId}`);
  assert.deepEqual(
    body.changes.slice(0, 3).map((change) => change.action),
    ['webhook.removed', 'webhook.secret_rotated', 'webhook.set'],
  );
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
    const { status, body } = await api('/v1/otp', { method: 'POST', body: JSON.stringify({ phoneNumber }), headers: DEV_APP_AUTH });
    assert.equal(status, 202, `POST /v1/otp for ${phoneNumber}`);
    ids[phoneNumber] = body.requestId;
  }
  await check('traffic settles: delivered, failed at send, failed at delivery, flaky sent', async () => {
    for (const phone of NUMBERS.ok) await waitForStatus(ids[phone], ['delivered']);
    await waitForStatus(ids[NUMBERS.rejected], ['failed']);
    await waitForStatus(ids[NUMBERS.undeliverable], ['failed']);
    await waitForStatus(ids[NUMBERS.flaky], ['sent', 'delivered']);
  });

  // A request stuck in `queued` for 10 minutes, as a restart of the dev server leaves one behind.
  const stuckAt = Date.now() - 10 * 60_000;
  await server.d1(
    `INSERT INTO otp_requests (id, phone_number, phone_prefix, status, origin, created_at, updated_at, expires_at, attempts, enqueued_at)
     VALUES ('otp_StuckStuckStuckStuck01', '${NUMBERS.stuck}', '+91980', 'queued', 'api', ${stuckAt}, ${stuckAt}, ${stuckAt + 300_000}, 0, ${stuckAt})`,
  );
  // An open alert incident and a cleared one, as the cron's rules record them.
  const alertAt = Date.now();
  await server.d1(
    `INSERT INTO alert_incidents (id, rule, scope, opened_at, cleared_at, detail_json, opened_notice, cleared_notice) VALUES
     ('inc_OpenOpenOpenOpenOpen01', 'delivery_success', 'startmessaging', ${alertAt - 120_000}, NULL,
      '{"summary":"startmessaging: 40% of 25 provider calls sent an SMS in the last 300 s (threshold 80%)"}', 'skipped', NULL),
     ('inc_ClearedClearedClear01', 'prefix_auto_blocked', '+88216', ${alertAt - 3_600_000}, ${alertAt - 600_000},
      '{"summary":"+88216 blocked automatically (low_conversion)"}', 'skipped', 'skipped')`,
  );
  for (const block of BLOCKS) assert.equal((await api('/v1/admin/prefix-blocks', { method: 'POST', body: JSON.stringify(block) })).status, 201);

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
    // Sandbox calls take under a millisecond: "<1 ms", never "0 ms".
    assert.match(await page.getByTestId('latency-percentiles').innerText(), /p50 (<1|\d+) ms · p95 (<1|\d+) ms · p99 (<1|\d+) ms/);
    const latency = (await page.getByTestId('card-latency').locator('.value').innerText()).trim();
    assert.match(latency, /^(<1|[1-9]\d*) ms$/, `latency card says ${latency}`);
    const errors = await page.getByTestId('top-errors').innerText();
    assert.match(errors, /provider_rejected_request/);
    assert.match(errors, /provider_delivery_failed/);
    assert.match(await page.getByTestId('card-delivered').innerText(), /%/);
  });

  await check('the Alerts panel lists open incidents first, then cleared ones, and says where notices go', async () => {
    const rows = page.getByTestId('alert-row');
    await rows.first().waitFor();
    assert.equal(await rows.first().getAttribute('data-state'), 'open');
    assert.match(await rows.first().innerText(), /delivery_success[\s\S]*startmessaging[\s\S]*40% of 25/);
    assert.match(await page.getByTestId('alerts-table').innerText(), /prefix_auto_blocked[\s\S]*\+88216/);
    assert.match(await page.getByTestId('alerts-receiver').innerText(), /No receiver set/);
  });

  await check('the range starts at the first request by default, in 1-minute bars', async () => {
    assert.equal(await page.getByTestId('range').inputValue(), 'first');
    assert.equal(await page.getByTestId('range-shown').getAttribute('data-bucket'), '1m');
    assert.ok(Number(await page.getByTestId('sends-chart').locator('svg').getAttribute('data-bars')) >= 15);
    const { body } = await api(`/v1/admin/stats?since=first&until=${Date.now()}`);
    assert.equal(body.bucket, '1m');
    assert.equal(Number((await page.getByTestId('card-requests').locator('.value').innerText()).trim()), body.requests.total);
  });

  await check('the stuck request is in the headline', async () => {
    const card = page.getByTestId('card-stuck');
    const [stuck, inFlight] = (await card.locator('.value').innerText()).split('/').map((part) => Number(part.trim()));
    assert.equal(stuck, 1);
    assert.ok(inFlight >= stuck, `in flight ${inFlight}`);
    assert.match(await card.getAttribute('class'), /\balert\b/);
    assert.match(await card.locator('.sub').innerText(), /untouched 2\+ min/);
  });

  await check('an empty range shows dashes, not zero milliseconds', async () => {
    const empty = `since=${Date.UTC(2001, 0, 1)}&until=${Date.UTC(2001, 0, 1, 1)}`;
    await page.route(STATS_ROUTE, (route) =>
      route.continue({
        url: route
          .request()
          .url()
          .replace(/since=[^&]*&until=\d+/, empty),
      }),
    );
    await page.getByTestId('refresh').click();
    await page.getByTestId('card-requests').locator('.value').filter({ hasText: /^0$/ }).waitFor();
    assert.equal((await page.getByTestId('card-latency').locator('.value').innerText()).trim(), '—');
    assert.equal((await page.getByTestId('card-delivered').locator('.value').innerText()).trim(), '—');
    assert.match(await page.getByTestId('latency-percentiles').innerText(), /No provider calls in this range/);
    await page.unroute(STATS_ROUTE);
    await page.getByTestId('refresh').click();
    await page
      .getByTestId('card-requests')
      .locator('.value')
      .filter({ hasText: /^[1-9]/ })
      .waitFor();
  });

  await check('prefix blocks show their notes, and one is lifted from the page', async () => {
    for (const block of BLOCKS) {
      const row = page.locator(`[data-testid="prefix-block-row"][data-prefix="${block.prefix}"]`);
      assert.equal(await row.getByTestId('prefix-block-note').innerText(), block.note);
    }
    assert.deepEqual(await cutOffTables(page), []);
    await page.locator(`[data-testid="prefix-block-row"][data-prefix="${BLOCKS[0].prefix}"]`).getByTestId('lift-prefix-block').click();
    await page.locator(`[data-testid="prefix-block-row"][data-prefix="${BLOCKS[0].prefix}"]`).waitFor({ state: 'detached' });
    const { body } = await api('/v1/admin/prefix-blocks');
    assert.deepEqual(
      body.blocks.map((block) => block.prefix),
      [BLOCKS[1].prefix],
    );
  });

  await check('locked phones: no panel while the service has no such route, else its list', async () => {
    const { status, body } = await api('/v1/admin/locked-phones');
    const panel = page.getByTestId('locked-phones-panel');
    if (status === 404) {
      assert.equal(await panel.isVisible(), false);
    } else {
      assert.equal(status, 200);
      await panel.waitFor({ state: 'visible' });
      assert.equal(await page.getByTestId('locked-phone-row').count(), body.lockedPhones.length);
    }
  });

  await check('locked phones: listed with their figures, and lifted from the page (the documented API shape)', async () => {
    const calls = [];
    await stubLockedPhones(page, calls);
    await page.getByTestId('refresh').click();
    const row = page.locator(`[data-testid="locked-phone-row"][data-phone="${NUMBERS.locked}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /10/);
    await row.getByTestId('lift-locked-phone').click();
    await row.waitFor({ state: 'detached' });
    assert.match(await page.getByTestId('locked-phones').innerText(), /No phone is locked/);
    assert.ok(calls.includes(`DELETE /v1/admin/locked-phones/${encodeURIComponent(NUMBERS.locked)}`), calls.join(', '));
    await page.unroute(LOCKED_PHONES_ROUTE);
  });

  await check('erase a person’s data: the form erases the number’s requests and says how many rows went', async () => {
    const erasedPhone = '+919800000044';
    assert.equal(await sendWithKey(DEV_APP.secretKey, erasedPhone), 202);
    await page.getByTestId('erasure-phone').fill(erasedPhone);
    await page.getByTestId('erasure-submit').click();
    await page
      .getByTestId('erasure-result')
      .filter({ hasText: /^Erased \d+ rows \(.*otp_requests 1/ })
      .waitFor();
    const { body } = await api(`/v1/admin/requests?phoneNumber=${encodeURIComponent(erasedPhone)}`);
    assert.deepEqual(body.requests, []);
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

  await check('apps: an app is created and its keys shown once; a key is rotated and one revoked, under the operator name', async () => {
    await appsWalkThrough(page, shots);
  });

  await check('the app selector keeps the figures, requests, attempts and resend form to one app', async () => {
    const at = Date.now() - 60_000;
    // The attempt's id as the service gives it (newAttemptIdSql in src/db/delivery-attempts.ts).
    await server.d1(
      `INSERT INTO apps (id, name, settings_json, created_at, updated_at) VALUES ('${SECOND_APP.id}', '${SECOND_APP.name}', '{}', ${at}, ${at});
       INSERT INTO otp_requests (id, phone_number, phone_prefix, status, origin, created_at, updated_at, expires_at, attempts, app_id, last_error_code)
       VALUES ('${SECOND_APP.requestId}', '${SECOND_APP.phone}', '+91980', 'failed', 'api', ${at}, ${at}, ${at + 300_000}, 1, '${SECOND_APP.id}', 'provider_rejected_request');
       INSERT INTO delivery_attempts (id, request_id, attempt_number, started_at, finished_at, duration_ms, outcome, http_status, error_code, provider)
       VALUES ((SELECT MAX(COALESCE(MAX(id) + 1, 0), ${at} * 1024) FROM delivery_attempts WHERE started_at = ${at}), '${SECOND_APP.requestId}', 1, ${at}, ${at + 5}, 5, 'failed', 400, 'provider_rejected_request', 'sandbox')`,
    );
    await page.getByTestId('filter-phone').fill('');
    await page.getByTestId('refresh').click();
    // Listed from GET /v1/admin/apps, or from the statistics' byApp on a service without it.
    for (const id of [SECOND_APP.id, 'app_localdev']) await page.locator(`[data-testid="app-filter"] option[value="${id}"]`).waitFor({ state: 'attached' });
    await page.getByTestId('app-filter').selectOption(SECOND_APP.id);
    await page.getByTestId('card-requests').locator('.value').filter({ hasText: /^1$/ }).waitFor();
    const onlySecond = (testId) =>
      page.waitForFunction(
        ([id, app]) => {
          const rows = [...document.querySelectorAll(`[data-testid="${id}"]`)];
          return rows.length === 1 && rows[0].dataset.appId === app;
        },
        [testId, SECOND_APP.id],
      );
    await onlySecond('recent-request-row');
    await onlySecond('attempt-row');
    await page.getByTestId('resend-dry-run').click();
    await page.getByTestId('resend-result').filter({ hasText: 'Dry run' }).waitFor();
    assert.equal(await page.getByTestId('resend-result').getAttribute('data-matched'), '1');
    await page.getByTestId('recent-request-open').click();
    await page.getByTestId('request-app').filter({ hasText: SECOND_APP.id }).waitFor();
    await page.getByTestId('app-filter').selectOption('');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="recent-request-row"]').length > 1);
    assert.ok(Number((await page.getByTestId('card-requests').locator('.value').innerText()).trim()) > 1);
  });

  await check('without GET /v1/admin/apps, the app selector lists the apps the statistics have seen', async () => {
    const APPS_ROUTE = /\/v1\/admin\/apps$/;
    await page.route(APPS_ROUTE, (route) =>
      route.fulfill({ status: 404, contentType: 'application/json', body: JSON.stringify({ error: { code: 'not_found', message: 'Not found' } }) }),
    );
    await page.getByTestId('refresh').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="app-filter"]').dataset.source === 'stats');
    for (const id of [SECOND_APP.id, 'app_localdev']) await page.locator(`[data-testid="app-filter"] option[value="${id}"]`).waitFor({ state: 'attached' });
    await page.unroute(APPS_ROUTE);
  });

  await check('the token survives a reload in the same tab, and signing out forgets it (and the operator name)', async () => {
    await page.reload();
    await page.getByTestId('dashboard').waitFor({ state: 'visible' });
    await page.getByTestId('sign-out').click();
    await page.getByTestId('sign-in-panel').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.getByTestId('operator-name').inputValue(), '');
  });

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const small = await newPage(phone);
  await stubLockedPhones(small, []);
  await small.goto(`${server.base}/admin`);
  await check('on a phone-sized screen the page and every table fit its width, and the stuck request shows', async () => {
    await signIn(small, DEV_TOKEN);
    await small.getByTestId('card-requests').filter({ hasText: /\d/ }).waitFor();
    await small.getByTestId('attempt-row').first().waitFor();
    await small.getByTestId('country-row').first().waitFor();
    await small.getByTestId('prefix-block-row').first().waitFor();
    await small.getByTestId('locked-phone-row').first().waitFor();
    await small.getByTestId('resend-row').first().waitFor();
    await small.getByTestId('key-row').first().waitFor();
    const widths = await small.evaluate(() => ({ page: document.documentElement.scrollWidth, screen: window.innerWidth }));
    // What sticks out, named, when the layout grew past the phone's width.
    const wide = await small.evaluate(() =>
      [...document.querySelectorAll('body *')]
        .filter((element) => element.getBoundingClientRect().right > 390.5 && element.children.length === 0)
        .slice(0, 5)
        .map(
          (element) =>
            `${element.tagName.toLowerCase()}.${element.className} "${element.textContent.trim().slice(0, 60)}" right ${Math.round(element.getBoundingClientRect().right)}`,
        ),
    );
    assert.equal(widths.screen, 390, `the layout is wider than the screen: ${wide.join('; ')}`);
    assert.ok(widths.page <= widths.screen, `page is ${widths.page}px wide on a ${widths.screen}px screen`);
    assert.deepEqual(await cutOffTables(small), []);
    // Every figure of a country row is on screen, each beside its label.
    const cells = await small.evaluate(() =>
      [...document.querySelector('[data-testid="country-row"]').cells].map((cell) => {
        const box = cell.getBoundingClientRect();
        return {
          label: cell.dataset.label,
          shown: box.width > 0 && box.left >= 0 && box.right <= window.innerWidth,
          before: getComputedStyle(cell, '::before').content,
        };
      }),
    );
    assert.deepEqual(
      cells.map((cell) => cell.label),
      ['code', 'requests', 'accepted', 'delivered', 'failed', 'expired', 'verified'],
    );
    for (const cell of cells) assert.ok(cell.shown && cell.before === `"${cell.label}"`, JSON.stringify(cell));
    assert.equal(Number((await small.getByTestId('card-stuck').locator('.value').innerText()).split('/')[0].trim()), 1);
    await small.getByTestId('by-country').screenshot({ path: join(shots, 'phone-by-country.png') });
    await small.screenshot({ path: join(shots, 'phone.png'), fullPage: true });
    await small.screenshot({ path: join(shots, 'phone-top.png') });
    await small.getByTestId('attempts-table').screenshot({ path: join(shots, 'phone-attempts.png') });
    await small.getByTestId('resend-form').screenshot({ path: join(shots, 'phone-resend.png') });
    await small.getByTestId('apps-panel').screenshot({ path: join(shots, 'phone-apps.png') });
  });

  await check('the API reference (Swagger UI, from this origin) lists every operation of the document, with no script error', async () => {
    const docs = await newPage(desktop);
    await docs.goto(`${server.base}/docs`);
    const spec = await (await fetch(`${server.base}/openapi.json`)).json();
    // Every operation, and the webhook the service posts (the document's `webhooks`).
    const operations = [...Object.values(spec.paths), ...Object.values(spec.webhooks ?? {})].reduce((sum, methods) => sum + Object.keys(methods).length, 0);
    await docs
      .locator('.opblock')
      .nth(operations - 1)
      .waitFor({ state: 'attached' });
    assert.equal(await docs.locator('.opblock').count(), operations);
    assert.ok(await docs.locator('[id$="-createOtp"] .opblock-summary').isVisible());
    assert.ok(await docs.locator('[id$="-otpEvent"] .opblock-summary').isVisible());
    assert.deepEqual(docs.problems, []);
  });

  await check('the API reference sends the key given to Authorize, which stays in the tab; without one the API answers 401', async () => {
    const docs = await newPage(desktop);
    await docs.goto(`${server.base}/docs`);
    const create = docs.locator('[id$="-createOtp"]');
    await create.locator('.opblock-summary').click();
    const refused = await executeOperation(docs, create, { phoneNumber: NUMBERS.docs[0] });
    assert.equal(refused.status, 401, refused.body);
    assert.equal(refused.authorization, undefined);
    await authorizeScheme(docs, 'secretKey', DEV_APP.secretKey);
    const sent = await executeOperation(docs, create, { phoneNumber: NUMBERS.docs[1] });
    assert.equal(sent.status, 202, sent.body);
    assert.equal(sent.authorization, `Bearer ${DEV_APP.secretKey}`);
    assert.match(sent.body, /"requestId":\s*"otp_/);
    assert.deepEqual(await docs.evaluate(() => Object.keys(sessionStorage)), ['otpd.docs.key.secretKey']);
    await docs.reload();
    // Deep linking opens the operation that was open; the key is still there.
    const reopened = docs.locator('[id$="-createOtp"].is-open');
    await reopened.waitFor();
    const again = await executeOperation(docs, reopened, { phoneNumber: NUMBERS.docs[2] });
    assert.equal(again.status, 202, again.body);
    await authorizeScheme(docs, 'secretKey', null);
    assert.equal(await docs.evaluate(() => sessionStorage.length), 0);
    assert.deepEqual(docs.problems, []);
  });

  await check('an operator tries an admin route from the API reference with the admin token', async () => {
    const docs = await newPage(desktop);
    await docs.goto(`${server.base}/docs`);
    await authorizeScheme(docs, 'adminBearer', DEV_TOKEN);
    const stats = docs.locator('[id$="-getStats"]');
    await stats.locator('.opblock-summary').click();
    const answer = await executeOperation(docs, stats);
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.authorization, `Bearer ${DEV_TOKEN}`);
    assert.match(answer.body, /"inFlight"/);
    await docs.screenshot({ path: join(shots, 'docs-admin.png') });
    assert.deepEqual(docs.problems, []);
  });

  await check('no script error and no blocked resource on either page', async () => {
    assert.deepEqual([...page.problems, ...small.problems], []);
  });
}

try {
  await main();
} catch (error) {
  fail(error?.stack ?? error);
  for (const line of server?.logTail(30) ?? []) console.log(line);
}
await end();
