import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { checkWebhookUrl } from '../src/webhooks/webhook-url';
import { makeApp } from './support/apps';
import { startMessagingEnv } from './support/fixtures';
import { deliver } from './support/queue';
import { deliverWebhookJobs, providerAccepting, putWebhook, sendCode, setReceiver, takeWebhookJobs, webhookTestEnv } from './support/webhooks';

/** Every spelling of an address no receiver may have, and why each is refused. */
const REFUSED_EVERYWHERE: Array<[string, string]> = [
  ['https://10.1.2.3/hook', 'private_address'],
  ['https://172.16.0.1/', 'private_address'],
  ['https://192.168.1.10:8443/hook', 'private_address'],
  ['https://100.64.0.1/', 'private_address'],
  ['https://127.0.0.2/', 'loopback_address'],
  ['https://2130706434/', 'loopback_address'], // 127.0.0.2 in decimal
  ['https://0x7f.0.0.2/', 'loopback_address'], // hex
  ['https://0177.0.0.2/', 'loopback_address'], // octal
  ['https://127.2/', 'loopback_address'], // short form
  ['https://0xa000001/', 'private_address'], // 10.0.0.1 in hex
  ['https://0xa9fea9fe/latest/meta-data', 'link_local_address'], // 169.254.169.254
  ['https://169.254.169.254/', 'link_local_address'],
  ['https://0.0.0.0/', 'reserved_address'],
  ['https://224.0.0.1/', 'reserved_address'],
  ['https://198.51.100.7/', 'reserved_address'],
  ['https://[::1]/', 'loopback_address'],
  ['https://[::]/', 'reserved_address'],
  ['https://[::ffff:127.0.0.1]/', 'loopback_address'], // IPv4-mapped
  ['https://[::ffff:a00:1]/', 'private_address'], // IPv4-mapped 10.0.0.1, hex
  ['https://[64:ff9b::c0a8:101]/', 'private_address'], // NAT64 of 192.168.1.1
  ['https://[2002:a00:1::1]/', 'private_address'], // 6to4 of 10.0.0.1
  ['https://[fd12:3456:789a::1]/', 'unique_local_address'],
  ['https://[fc00::1]/', 'unique_local_address'],
  ['https://[fe80::1]/', 'link_local_address'],
  ['https://[ff02::1]/', 'reserved_address'],
  ['https://[2001:db8::1]/', 'reserved_address'],
  ['https://user:secret@example.com/hook', 'credentials_in_url'],
  ['https://token@example.com/hook', 'credentials_in_url'],
  ['ftp://example.com/hook', 'https_required'],
  ['http://example.com/hook', 'https_required'],
  ['http://10.0.0.1/hook', 'https_required'],
  ['not a url', 'invalid_url'],
  [`https://example.com/${'a'.repeat(2048)}`, 'url_too_long'],
];

const REFUSED_IN_PRODUCTION: Array<[string, string]> = [
  ['https://localhost/hook', 'local_hostname'],
  ['https://LOCALHOST./hook', 'local_hostname'],
  ['https://api.localhost/hook', 'local_hostname'],
  ['https://printer.local/hook', 'local_hostname'],
  ['https://billing.internal/hook', 'local_hostname'],
  ['https://intranet/hook', 'local_hostname'],
  ['http://localhost:8788/hook', 'https_required'],
  ['http://127.0.0.1:8788/hook', 'https_required'],
  ['https://127.0.0.1/hook', 'loopback_address'],
  // Other spellings of 127.0.0.1 are 127.0.0.1 once parsed: allowed outside production with it.
  ['https://2130706433/', 'loopback_address'],
  ['https://0x7f.0.0.1/', 'loopback_address'],
  ['https://127.1/', 'loopback_address'],
];

const ACCEPTED_EVERYWHERE = [
  'https://example.com/hooks/otp?tenant=7',
  'https://Example.COM:8443/hooks',
  'https://93.184.215.14/hook',
  'https://[2606:4700::6810:84e5]/hook',
  'https://[::ffff:93.184.215.14]/hook',
];

describe('webhook URL rules', () => {
  it.each(REFUSED_EVERYWHERE)('refuses %s (%s) in every environment', (url, reason) => {
    for (const environment of ['production', 'development', 'test'] as const) {
      expect(checkWebhookUrl(url, environment), environment).toMatchObject({ ok: false, reason });
    }
  });

  it.each(REFUSED_IN_PRODUCTION)('refuses %s (%s) in production', (url, reason) => {
    expect(checkWebhookUrl(url, 'production')).toMatchObject({ ok: false, reason });
  });

  it('outside production, a receiver on this machine: http or https to localhost or 127.0.0.1 only', () => {
    for (const environment of ['development', 'test'] as const) {
      for (const url of ['http://localhost:8788/hook', 'http://127.0.0.1:8788/hook', 'https://localhost/hook']) {
        expect(checkWebhookUrl(url, environment), `${environment} ${url}`).toMatchObject({ ok: true });
      }
      for (const url of ['http://[::1]:8788/', 'http://127.0.0.2/', 'http://app.localhost/']) {
        expect(checkWebhookUrl(url, environment).ok, `${environment} ${url}`).toBe(false);
      }
    }
  });

  it.each(ACCEPTED_EVERYWHERE)('accepts %s, normalised', (url) => {
    for (const environment of ['production', 'test'] as const) {
      const checked = checkWebhookUrl(url, environment);
      expect(checked, environment).toEqual({ ok: true, url: new URL(url).href });
    }
  });
});

describe('refused when an operator sets it', () => {
  it('400 webhook_url_refused naming the reason, and nothing is stored', async () => {
    const app = await makeApp();
    for (const [url, reason] of [
      ['https://[::ffff:127.0.0.1]/hook', 'loopback_address'],
      ['https://2130706434/hook', 'loopback_address'],
      ['https://10.0.0.8/hook', 'private_address'],
      ['http://example.com/hook', 'https_required'],
    ]) {
      const refused = await putWebhook(app.id, { url });
      expect(refused.status, url).toBe(400);
      expect(refused.body.error, url).toMatchObject({ code: 'webhook_url_refused', reason, message: expect.stringMatching(/^url: /) });
    }
    expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM webhooks WHERE app_id = ?1').bind(app.id).first()).toEqual({ n: 0 });
  });

  it('in production, local names and plain http to this machine are refused too', async () => {
    const app = await makeApp();
    const production = startMessagingEnv({ ENVIRONMENT: 'production' });
    for (const [url, reason] of REFUSED_IN_PRODUCTION.filter(([, reason]) => reason !== 'loopback_address')
      .slice(0, 3)
      .concat(REFUSED_IN_PRODUCTION.slice(-4))) {
      const refused = await putWebhook(app.id, { url }, production);
      expect(refused.status, url).toBe(400);
      expect(refused.body.error?.reason, url).toBe(reason);
    }
    expect((await putWebhook(app.id, { url: 'https://hooks.example.com/otp' }, production)).status).toBe(201);
  });
});

describe('re-checked before every post', () => {
  it('a stored URL the rules refuse now fails the attempt without a request (retried: an operator may fix it)', async () => {
    const app = await makeApp();
    // Allowed where it was set (a development receiver), refused where it is posted from.
    await setReceiver(app.id, { url: 'http://localhost:8788/hook' });
    const { testEnv, sends, hooks } = webhookTestEnv({ ENVIRONMENT: 'production' });
    providerAccepting();
    const { requestId } = await sendCode(testEnv, app.secretKey);
    await deliver(
      testEnv,
      'otp-send',
      sends.take().map((job) => job.body),
    );
    const [eventId] = takeWebhookJobs(hooks, requestId);
    // No receiver is intercepted: a request to it would fail this test.
    const { result } = await deliverWebhookJobs(testEnv, [eventId!]);
    expect(result.retryMessages).toHaveLength(1);
    const attempt = await env.DB.prepare('SELECT outcome, http_status, error_code, error_message, duration_ms FROM webhook_attempts WHERE event_id = ?1')
      .bind(eventId)
      .first();
    expect(attempt).toMatchObject({ outcome: 'retry', http_status: null, error_code: 'url_refused', error_message: expect.stringMatching(/^https_required/) });
  });

  it('a URL written straight to D1 past the rules is refused the same way', async () => {
    const app = await makeApp();
    await setReceiver(app.id);
    await env.DB.prepare("UPDATE webhooks SET url = 'https://[::ffff:169.254.169.254]/latest' WHERE app_id = ?1").bind(app.id).run();
    const { testEnv, sends, hooks } = webhookTestEnv();
    providerAccepting();
    const { requestId } = await sendCode(testEnv, app.secretKey);
    await deliver(
      testEnv,
      'otp-send',
      sends.take().map((job) => job.body),
    );
    const [eventId] = takeWebhookJobs(hooks, requestId);
    await deliverWebhookJobs(testEnv, [eventId!]);
    const attempt = await env.DB.prepare('SELECT error_code, error_message FROM webhook_attempts WHERE event_id = ?1').bind(eventId).first();
    expect(attempt).toMatchObject({ error_code: 'url_refused', error_message: expect.stringMatching(/^link_local_address/) });
  });
});
