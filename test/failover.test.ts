import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { deriveCode } from '../src/codes';
import { loadConfig } from '../src/config';
import { drainProvider } from '../src/db/provider-drains';
import { statusCheck } from '../src/queue/messages';
import { circuitSettings } from '../src/routing/provider-health-client';
import { adminFetch, adminJson } from './support/admin';
import { makeApp, withKey } from './support/apps';
import { attemptRows, PROVIDER_URL, requestRow, SEND_ROUTE, STATUS_ROUTE, seedRequest, TEST_OTP_SECRET } from './support/fixtures';
import { interceptOrigin, json } from './support/outbound';
import { withOwnPacer } from './support/pacer';
import { smAccepted, TWILIO_MESSAGE_SID, TWILIO_SEND_ROUTE, TWILIO_STATUS_ROUTE, TWILIO_URL, twilioCreated, twoProviderEnv } from './support/providers';
import { deliver, deliverSendJobs } from './support/queue';

const down = () => json(503, { error: { message: 'down' } });
const form = (body: unknown) => Object.fromEntries(new URLSearchParams(String(body)));

/** Opens a provider's circuit as its health object would see it: enough transient failures now. */
async function openCircuit(testEnv: Env, provider: string) {
  const settings = circuitSettings(loadConfig(testEnv));
  const outcomes = Array.from({ length: settings.minFailures }, () => ({ at: Date.now(), ok: false, latencyMs: 5 }));
  await testEnv.PROVIDER_HEALTH.get(testEnv.PROVIDER_HEALTH.idFromName(provider)).report({ provider, settings, outcomes });
}

describe('failover between providers', () => {
  it('a transient failure at the primary sends the next attempt to the secondary after FAILOVER_AFTER_SECONDS, with the same code', async () => {
    const { id } = await seedRequest();
    const sm = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: down });
    const twilio = interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => twilioCreated() });
    const { testEnv } = withOwnPacer(twoProviderEnv({ FAILOVER_AFTER_SECONDS: '3' }));

    const first = await deliverSendJobs(testEnv, [id]);
    expect(first.result.retryMessages).toEqual([expect.objectContaining({ delaySeconds: 3 })]);
    expect(await requestRow(id)).toMatchObject({ status: 'queued', last_error_code: 'provider_unavailable' });
    await deliverSendJobs(testEnv, [id], 2);

    expect(sm).toHaveLength(1);
    expect(twilio).toHaveLength(1);
    const code = await deriveCode(TEST_OTP_SECRET, id, 6);
    expect((sm[0]!.body as { variables: { otp: string } }).variables.otp).toBe(code);
    expect(form(twilio[0]!.body).Body).toContain(code);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', sent_provider: 'twilio', sent_channel: 'sms', provider_message_id: TWILIO_MESSAGE_SID });
    expect(await attemptRows(id)).toEqual([
      expect.objectContaining({ attempt_number: 1, provider: 'startmessaging', channel: 'sms', outcome: 'retry' }),
      expect.objectContaining({ attempt_number: 2, provider: 'twilio', channel: 'sms', outcome: 'sent' }),
    ]);
  });

  it('the status check goes to the provider that sent', async () => {
    const { id } = await seedRequest();
    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: down });
    interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => twilioCreated() });
    const { testEnv } = withOwnPacer(twoProviderEnv());
    await deliverSendJobs(testEnv, [id]);
    await deliverSendJobs(testEnv, [id], 2);
    const checks = interceptOrigin(TWILIO_URL, {
      [TWILIO_STATUS_ROUTE]: () => json(200, { sid: TWILIO_MESSAGE_SID, status: 'delivered', date_updated: null }),
    });
    await deliver(testEnv, 'otp-send', [statusCheck(id, 1)]);
    expect(checks).toHaveLength(1);
    expect(await requestRow(id)).toMatchObject({ status: 'delivered' });
  });

  it('a permanent error (invalid number) never fails over', async () => {
    const { id } = await seedRequest();
    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => json(400, { error: { code: 'INVALID_PHONE_NUMBER', message: 'bad number' } }) });
    const twilio = interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => twilioCreated() });
    const { testEnv } = withOwnPacer(twoProviderEnv());
    const { result } = await deliverSendJobs(testEnv, [id]);
    expect(result.retryMessages).toEqual([]);
    expect(twilio).toHaveLength(0);
    expect(await requestRow(id)).toMatchObject({ status: 'failed', last_error_code: 'provider_rejected_request' });
  });

  it('after an ambiguous Twilio outcome the request never goes to Twilio again; with no other provider it ends provider_outcome_unknown', async () => {
    const { id } = await seedRequest();
    const twilio = interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => new Promise<Response>(() => {}) });
    const sm = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: (_call, index) => (index === 0 ? down() : smAccepted()) });
    const { testEnv } = withOwnPacer(twoProviderEnv({ PROVIDER_ORDER: 'twilio,startmessaging' }));
    await deliverSendJobs(testEnv, [id]); // Twilio times out: ambiguous
    await deliverSendJobs(testEnv, [id], 2); // StartMessaging 503
    await deliverSendJobs(testEnv, [id], 3); // StartMessaging again, never Twilio
    expect(twilio).toHaveLength(1);
    expect(sm).toHaveLength(2);
    expect(await attemptRows(id)).toEqual([
      expect.objectContaining({ provider: 'twilio', error_code: 'provider_timeout', ambiguous: 1 }),
      expect.objectContaining({ provider: 'startmessaging', outcome: 'retry' }),
      expect.objectContaining({ provider: 'startmessaging', outcome: 'sent' }),
    ]);

    const alone = await seedRequest();
    const { testEnv: twilioOnly } = withOwnPacer(twoProviderEnv({ PROVIDER_ORDER: 'twilio' }));
    const { result } = await deliverSendJobs(twilioOnly, [alone.id]);
    expect(result.retryMessages).toEqual([]);
    expect(await requestRow(alone.id)).toMatchObject({ status: 'failed', last_error_code: 'provider_outcome_unknown' });
  });

  it('an open circuit sends a fresh request to the next provider from its first attempt', async () => {
    const { id } = await seedRequest();
    const sm = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => smAccepted() });
    const twilio = interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => twilioCreated() });
    const { testEnv } = withOwnPacer(twoProviderEnv());
    await openCircuit(testEnv, 'startmessaging');
    await deliverSendJobs(testEnv, [id]);
    expect(sm).toHaveLength(0);
    expect(twilio).toHaveLength(1);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', sent_provider: 'twilio' });
  });

  it('the batch reports its outcomes: transient failures open the primary’s circuit', async () => {
    const requests = await Promise.all(Array.from({ length: 5 }, () => seedRequest()));
    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: down });
    interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => twilioCreated() });
    const { testEnv } = withOwnPacer(twoProviderEnv());
    await deliverSendJobs(
      testEnv,
      requests.map((request) => request.id),
    );
    const settings = circuitSettings(loadConfig(testEnv));
    const view = await testEnv.PROVIDER_HEALTH.get(testEnv.PROVIDER_HEALTH.idFromName('startmessaging')).view({ provider: 'startmessaging', settings });
    expect(view).toMatchObject({ state: 'open', failures: 5 });
  });

  it('a batch stops calling a provider its own calls show down, without waiting for the health object', async () => {
    const requests = await Promise.all(Array.from({ length: 12 }, () => seedRequest()));
    const sm = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: down });
    const twilio = interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => twilioCreated() });
    const { testEnv } = withOwnPacer(twoProviderEnv({ SEND_CONCURRENCY: '1' }));
    await deliverSendJobs(
      testEnv,
      requests.map((request) => request.id),
    );
    // CIRCUIT_MIN_FAILURES (5) calls fail; the other seven go to Twilio in the same batch.
    expect(sm).toHaveLength(5);
    expect(twilio).toHaveLength(7);
  });

  it('a drained provider gets nothing; with every provider drained the send waits, uncounted', async () => {
    const { id } = await seedRequest();
    const sm = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => smAccepted() });
    const twilio = interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => twilioCreated() });
    const { testEnv } = withOwnPacer(twoProviderEnv());
    await drainProvider(env.DB, { provider: 'startmessaging', drainedAt: Date.now(), actor: 'test', reason: null });
    await deliverSendJobs(testEnv, [id]).finally(() => env.DB.prepare('DELETE FROM provider_drains').run());
    expect(sm).toHaveLength(0);
    expect(twilio).toHaveLength(1);
    await drainProvider(env.DB, { provider: 'startmessaging', drainedAt: Date.now(), actor: 'test', reason: null });

    const waiting = await seedRequest();
    await drainProvider(env.DB, { provider: 'twilio', drainedAt: Date.now(), actor: 'test', reason: null });
    try {
      const { result } = await deliverSendJobs(testEnv, [waiting.id]);
      expect(result.retryMessages).toEqual([expect.objectContaining({ delaySeconds: 30 })]);
      expect(await requestRow(waiting.id)).toMatchObject({ status: 'queued', attempts: 0 });
    } finally {
      // Drains are the deployment's, in D1 that other tests share.
      await env.DB.prepare('DELETE FROM provider_drains').run();
    }
  });

  it("an app's providers setting puts its own order first", async () => {
    const app = await makeApp({ providers: ['twilio', 'startmessaging'] });
    const { id } = await seedRequest();
    await env.DB.prepare('UPDATE otp_requests SET app_id = ?1 WHERE id = ?2').bind(app.id, id).run();
    const sm = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => smAccepted() });
    const twilio = interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => twilioCreated() });
    await deliverSendJobs(withOwnPacer(twoProviderEnv()).testEnv, [id]);
    expect(sm).toHaveLength(0);
    expect(twilio).toHaveLength(1);
    expect(form(twilio[0]!.body).Body).toMatch(/^\d{6} is your Another app verification code\.$/);
  });

  it('status checks of a StartMessaging send still go to StartMessaging', async () => {
    const { id } = await seedRequest();
    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => smAccepted('msg_x'), [STATUS_ROUTE]: () => json(200, { data: { status: 'delivered' } }) });
    const { testEnv } = withOwnPacer(twoProviderEnv());
    await deliverSendJobs(testEnv, [id]);
    await deliver(testEnv, 'otp-send', [statusCheck(id, 1)]);
    expect(await requestRow(id)).toMatchObject({ status: 'delivered', sent_provider: 'startmessaging' });
  });
});

describe('which provider and channel delivered, in every view', () => {
  it('the status view, the admin request and attempts (CSV too) and the statistics name the provider and channel', async () => {
    const since = Date.now() - 1;
    const { id } = await seedRequest();
    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: down });
    interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => twilioCreated() });
    const { testEnv } = withOwnPacer(twoProviderEnv());
    await deliverSendJobs(testEnv, [id]);
    await deliverSendJobs(testEnv, [id], 2);

    const status = await SELF.fetch(`https://otp.test/v1/otp/${id}`, { headers: withKey() });
    expect(await status.json()).toMatchObject({ status: 'sent', channel: 'sms', deliveredVia: { provider: 'twilio', channel: 'sms' } });
    const detail = await adminJson<{ request: object; attempts: object[] }>(`/v1/admin/requests/${id}`);
    expect(detail.body.request).toMatchObject({ sentProvider: 'twilio', sentChannel: 'sms', channel: 'sms' });
    expect(detail.body.attempts).toEqual([
      expect.objectContaining({ provider: 'startmessaging', channel: 'sms', outcome: 'retry', ambiguous: false }),
      expect.objectContaining({ provider: 'twilio', channel: 'sms', outcome: 'sent' }),
    ]);
    const csv = await (await adminFetch(`/v1/admin/attempts?requestId=${id}&format=csv`)).text();
    expect(csv.split('\n')[0]).toContain('provider,channel,ambiguous');
    expect(csv).toContain(',twilio,sms,false,');
    const stats = await adminJson<{ byProvider: Array<{ provider: string; attempts: Record<string, number> }> }>(
      `/v1/admin/stats?since=${since}&until=${Date.now() + 1000}`,
    );
    expect(stats.body.byProvider).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ provider: 'startmessaging', channel: 'sms', attempts: expect.objectContaining({ retry: 1 }) }),
        expect.objectContaining({ provider: 'twilio', channel: 'sms', attempts: expect.objectContaining({ sent: 1 }) }),
      ]),
    );
  });
});
