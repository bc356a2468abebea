#!/usr/bin/env node
/**
 * The example app (examples/login) in a real headless browser: `npm run test:example`.
 *
 * Starts the service (scripts/lib/test-service.mjs: $OTP_BASE_URL when set, else a wrangler dev of
 * this tree), makes an app for the example through the admin API as an operator would (allowing the
 * example's origin), starts the example's own wrangler dev with that app's keys, and then drives
 * Debian's Chromium with playwright-core through the whole flow: types a phone number, reads the
 * code from the sandbox listing, types it, and sees "logged in", and the events the service posted
 * to the example's webhook receiver (the app's webhook set through the admin API). It also checks that the backend takes a token once, refuses a
 * forged one and one of another app, that the login survives a reload and that logging out ends it.
 * Ends with one line: `N passed, M failed` (also written as JSON to $BROWSER_RESULTS_FILE when set).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { sleep } from '../scripts/lib/async.mjs';
import { createDevStack } from '../scripts/lib/dev-stack.mjs';
import { DEV_APP_AUTH, LOCAL_DEV_SECRETS } from '../scripts/lib/local-dev-secrets.mjs';
import { freePort } from '../scripts/lib/processes.mjs';
import { startTestService } from '../scripts/lib/test-service.mjs';
import { ROOT } from '../scripts/lib/wrangler.mjs';
import { CHROMIUM, CHROMIUM_ARGS, checkRun } from './lib/check-run.mjs';

const OVERALL_TIMEOUT_MS = 240_000;
// Each in a destination prefix and number block of its own.
const PHONE = '+919844400081';
const OTHER_APP_PHONE = '+918755500082';

let service;
let example;
let browser;

async function cleanup() {
  await browser?.close().catch(() => {});
  await example?.stop().catch(() => {});
  await service?.stop().catch(() => {});
}

const { check, fail, end } = checkRun({ timeoutMs: OVERALL_TIMEOUT_MS, cleanup });

/** A JSON call to `base`; answers { status, body }. */
async function call(base, path, { method = 'GET', headers = {}, body } = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

const admin = (path, init = {}) =>
  call(service.base, path, { ...init, headers: { Authorization: `Bearer ${LOCAL_DEV_SECRETS.ADMIN_TOKEN}`, ...init.headers } });

/** The newest code the sandbox "sent" to `phoneNumber`, once the service's queue has sent it. */
async function sandboxCode(phoneNumber) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { body } = await call(service.base, `/v1/sandbox/messages?phoneNumber=${encodeURIComponent(phoneNumber)}&limit=1`);
    if (body.messages[0]) return body.messages[0].code;
    await sleep(250);
  }
  throw new Error(`the sandbox sent nothing to ${phoneNumber}`);
}

/** A verification token of the development app (another app than the example's). */
async function developmentAppToken() {
  const sent = await call(service.base, '/v1/otp', { method: 'POST', headers: DEV_APP_AUTH, body: { phoneNumber: OTHER_APP_PHONE } });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  const code = await sandboxCode(OTHER_APP_PHONE);
  const verified = await call(service.base, `/v1/otp/${sent.body.requestId}/verify`, { method: 'POST', headers: DEV_APP_AUTH, body: { code } });
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  return verified.body.token;
}

async function main() {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  const shots = mkdtempSync(join(tmpdir(), 'otpd-example-'));
  service = await startTestService({ label: 'otpd-example-service' });

  // The example's app, made as an operator makes one: it allows the example's origin; its keys go
  // to the example's backend and page.
  const examplePort = await freePort();
  const exampleOrigin = `http://127.0.0.1:${examplePort}`;
  const created = await admin('/v1/admin/apps', { method: 'POST', body: { name: 'Example login', settings: { allowedOrigins: [exampleOrigin] } } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const appId = created.body.app.id;
  // Its webhook posts to the example's receiver (plain http to 127.0.0.1 is allowed outside production).
  const webhook = await admin(`/v1/admin/apps/${appId}/webhook`, { method: 'PUT', body: { url: `${exampleOrigin}/webhooks/otp` } });
  assert.equal(webhook.status, 201, JSON.stringify(webhook.body));
  example = createDevStack({
    label: 'otpd-example',
    cwd: join(ROOT, 'examples', 'login'),
    migrate: false,
    localSecrets: false,
    vars: {
      OTP_SERVICE_URL: service.base,
      OTP_APP_ID: appId,
      OTP_PUBLISHABLE_KEY: created.body.publishableKey,
      OTP_SECRET_KEY: created.body.secretKey,
      SESSION_SECRET: crypto.randomUUID(),
      OTP_WEBHOOK_SECRET: webhook.body.secret,
    },
  });
  await example.start({ healthPath: '/api/health', healthTimeoutMs: 90_000, port: examplePort });
  assert.equal(example.base, exampleOrigin);
  console.log(`service on ${service.base}, example on ${example.base}; screenshots in ${shots}`);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    // Not being logged in yet answers 401 on purpose; the browser logs that fetch as an error.
    const expected = /status of 401/.test(message.text()) && message.location().url.endsWith('/api/session');
    if (message.type() === 'error' && !expected) problems.push(`console: ${message.text()}`);
  });
  /** The token the page hands to the backend, as it sent it. */
  let handedOver;
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.url().endsWith('/api/session')) handedOver = JSON.parse(request.postData() ?? '{}').token;
  });

  await check('phone number, then the code from the sandbox: logged in', async () => {
    await page.goto(example.base);
    await page.getByTestId('phone').fill(PHONE);
    await page.getByTestId('send-code').click();
    await page.getByTestId('code-form').waitFor({ state: 'visible' });
    await page.getByTestId('code').fill(await sandboxCode(PHONE));
    await page.getByTestId('log-in').click();
    await page.getByTestId('logged-in').waitFor({ state: 'visible' });
    assert.equal(await page.getByTestId('logged-in-phone').innerText(), PHONE);
    assert.equal(await page.getByTestId('message').innerText(), '');
    await page.screenshot({ path: join(shots, 'logged-in.png') });
  });

  await check('the example received the login’s events from the service’s webhook, signed, and shows them', async () => {
    const events = page.getByTestId('events');
    await events.locator('li[data-type="otp.verified"]').waitFor({ timeout: 60_000 });
    await events.locator('li[data-type="otp.sent"]').waitFor({ timeout: 60_000 });
    const shown = await events.locator('li').evaluateAll((items) => items.map((item) => item.dataset.type));
    assert.deepEqual(
      shown.filter((type) => type !== 'otp.delivered'),
      ['otp.sent', 'otp.verified'],
    );
    // The service recorded each post as delivered to the example.
    const { body } = await admin(`/v1/admin/apps/${appId}/webhook/deliveries`);
    const states = Object.fromEntries(body.deliveries.map((delivery) => [delivery.type, delivery.state]));
    assert.equal(states['otp.verified'], 'delivered', JSON.stringify(body.deliveries));
    assert.equal(states['otp.sent'], 'delivered', JSON.stringify(body.deliveries));
    // A post the example cannot verify is refused.
    const forged = await fetch(`${example.base}/webhooks/otp`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'webhook-id': 'evt_x',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': 'v1,AAAA',
      },
      body: '{}',
    });
    assert.equal(forged.status, 400);
    await page.screenshot({ path: join(shots, 'events.png') });
  });

  await check('the backend took the token once: the same token again, a forged one and another app’s are refused', async () => {
    assert.ok(handedOver, 'the page handed no token to the backend');
    const again = await call(example.base, '/api/session', { method: 'POST', body: { token: handedOver } });
    assert.equal(again.status, 409, JSON.stringify(again.body));
    const [header, payload, signature] = handedOver.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forgedPayload = Buffer.from(JSON.stringify({ ...claims, jti: 'otp_ForgedForgedForgedForg' })).toString('base64url');
    const forged = await call(example.base, '/api/session', { method: 'POST', body: { token: `${header}.${forgedPayload}.${signature}` } });
    assert.equal(forged.status, 401, JSON.stringify(forged.body));
    const foreign = await call(example.base, '/api/session', { method: 'POST', body: { token: await developmentAppToken() } });
    assert.equal(foreign.status, 401, JSON.stringify(foreign.body));
    assert.match(foreign.body.error, /ERR_JWT_CLAIM_VALIDATION_FAILED/);
  });

  await check('the login survives a reload (the example’s own session cookie), and logging out ends it', async () => {
    await page.reload();
    await page.getByTestId('logged-in').waitFor({ state: 'visible' });
    assert.equal(await page.getByTestId('logged-in-phone').innerText(), PHONE);
    await page.getByTestId('log-out').click();
    await page.getByTestId('phone-form').waitFor({ state: 'visible' });
    await page.reload();
    await page.getByTestId('phone-form').waitFor({ state: 'visible' });
  });

  await check('no script error and nothing the page’s content security policy blocked', async () => {
    assert.deepEqual(problems, []);
  });
}

try {
  await main();
} catch (error) {
  fail(error?.stack ?? error);
  for (const line of [...(service?.logTail(20) ?? []), ...(example?.logTail(20) ?? [])]) console.log(line);
}
await end();
