import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import { adminFetch, adminJson } from './support/admin';
import { ALERT_URL, alertEnv, alertReceiver, alertSecret, clearAlertData, runAlertsAt, seedProviderCalls } from './support/alerts';

beforeEach(clearAlertData);

interface Listing {
  incidents: Array<{
    id: string;
    rule: string;
    scope: string | null;
    state: string;
    openedAt: string;
    clearedAt: string | null;
    summary: string;
    detail: Record<string, unknown>;
    notices: {
      opened: string;
      cleared: string | null;
      attempts: number;
      nextAttemptAt: string | null;
      lastNotifiedAt: string | null;
      lastError: string | null;
    };
  }>;
  receiver: { url: string | null; problem: string | null; secretVersion: number };
}

const MINUTE = 60_000;

describe('GET /v1/admin/alerts', () => {
  it('lists open incidents first, then cleared ones, with their notices and the receiver', async () => {
    const testEnv = alertEnv({ ALERT_DEAD_LETTER_WINDOW_SECONDS: '60' });
    alertReceiver();
    const t = Date.now();
    await env.DB.prepare("INSERT INTO dead_letters (message_id, request_id, reason, received_at) VALUES ('m1', NULL, 'retries_exhausted', ?1)")
      .bind(t - 5 * MINUTE)
      .run();
    await runAlertsAt(testEnv, t - 5 * MINUTE);
    await runAlertsAt(testEnv, t - 4 * MINUTE);
    await seedProviderCalls('startmessaging', Array(20).fill('retry'), t);
    await runAlertsAt(testEnv, t);

    const { status, body } = await adminJson<Listing>('/v1/admin/alerts', {}, testEnv);
    expect(status).toBe(200);
    expect(body.receiver).toEqual({ url: ALERT_URL, problem: null, secretVersion: 1 });
    expect(body.incidents.map((incident) => [incident.rule, incident.state])).toEqual([
      ['delivery_success', 'open'],
      ['dead_letters', 'cleared'],
    ]);
    expect(body.incidents[0]).toMatchObject({
      scope: 'startmessaging',
      clearedAt: null,
      summary: expect.stringContaining('0% of 20 provider calls'),
      detail: { calls: 20, sent: 0 },
      notices: { opened: 'delivered', cleared: null, attempts: 0, nextAttemptAt: null, lastNotifiedAt: new Date(t).toISOString() },
    });
    expect(body.incidents[1]).toMatchObject({ scope: null, notices: { opened: 'delivered', cleared: 'delivered' } });
  });

  it('says why a receiver URL is refused', async () => {
    const { body } = await adminJson<Listing>('/v1/admin/alerts', {}, alertEnv({ ALERT_WEBHOOK_URL: 'https://192.168.1.10/hook' }));
    expect(body.receiver.problem).toMatch(/^private_address/);
  });

  it('refuses a bad query with 400 invalid_request, and callers without the admin token with 401', async () => {
    const bad = await adminFetch('/v1/admin/alerts?days=0');
    expect(bad.status).toBe(400);
    expect((await bad.json<{ error: { code: string } }>()).error.code).toBe('invalid_request');
    const anonymous = await adminFetch('/v1/admin/alerts', { headers: { Authorization: 'Bearer wrong' } });
    expect(anonymous.status).toBe(401);
  });
});

describe('GET /v1/admin/alerts/receiver', () => {
  it('answers the secret the posts are signed with, derived as documented, never cached', async () => {
    const response = await adminFetch('/v1/admin/alerts/receiver', {}, alertEnv({ ALERT_WEBHOOK_SECRET_VERSION: '3' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('Cache-Control')).toBe('no-store');
    expect(await response.json()).toEqual({ receiver: { url: ALERT_URL, problem: null, secretVersion: 3 }, secret: await alertSecret(3) });
  });

  it('500 configuration_error naming WEBHOOK_SECRET_KEY when it is not set', async () => {
    const response = await adminFetch('/v1/admin/alerts/receiver', {}, alertEnv({ WEBHOOK_SECRET_KEY: '' }));
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ error: { code: 'configuration_error', missingSecret: 'WEBHOOK_SECRET_KEY' } });
  });
});
