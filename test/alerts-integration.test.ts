import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import { signalLastAt } from '../src/db/alert-signals';
import worker from '../src/index';
import { localMetrics } from '../src/metrics/metrics';
import { alertEnv, alertReceiver, clearAlertData, incidentRows, runAlertsAt, verifiedNotice } from './support/alerts';
import { withKey } from './support/apps';
import { elapse } from './support/elapse';
import { PROVIDER_URL, SEND_ROUTE, startMessagingEnv, uniquePhone } from './support/fixtures';
import { interceptOrigin, json } from './support/outbound';
import { deliverSendJobs } from './support/queue';
import { recordingQueue } from './support/recording-queue';
import { fetchWithEnv } from './support/worker';

beforeEach(clearAlertData);

let ipCounter = 0;
function postOtp(testEnv: Env): Promise<Response> {
  return fetchWithEnv(
    new Request('https://otp.test/v1/otp', {
      method: 'POST',
      headers: withKey({ 'Content-Type': 'application/json', 'CF-Connecting-IP': `203.0.113.${++ipCounter % 250}` }),
      body: JSON.stringify({ phoneNumber: uniquePhone() }),
    }),
    testEnv,
  );
}

const accepted = () =>
  json(201, { success: true, statusCode: 201, data: { otpRequestId: 'otpreq_1', messageId: `msg_${crypto.randomUUID()}`, status: 'queued' } });

describe('an outage of the provider, end to end', () => {
  it('a stand-in that fails for a while: delivery_success fires once, then clears once, each posted signed to the receiver', async () => {
    const sends = recordingQueue();
    const testEnv = {
      ...startMessagingEnv({ ALERT_WEBHOOK_URL: 'https://ops.test/alerts', ALERT_SUCCESS_MIN_CALLS: '5', OTP_TTL_SECONDS: '3600' }),
      SEND_QUEUE: sends.binding,
    } as Env;
    let providerDown = true;
    const providerCalls = interceptOrigin(PROVIDER_URL, {
      [SEND_ROUTE]: () => (providerDown ? json(503, { success: false, error: { code: 'UNAVAILABLE', message: 'down' } }) : accepted()),
    });
    const posts = alertReceiver();

    for (let i = 0; i < 5; i++) expect((await postOtp(testEnv)).status).toBe(202);
    const ids = sends.take().map((message) => (message.body as { requestId: string }).requestId);
    await deliverSendJobs(testEnv, ids);
    expect(providerCalls).toHaveLength(5);

    // The cron, a minute later: every call of the window failed, and the provider's circuit opened
    // (its health object wrote the change to provider_events), so both rules fire, each once.
    const ofRule = <T extends { rule: string }>(list: T[]) => list.filter((entry) => entry.rule === 'delivery_success');
    const successPosts = () => posts.filter((post) => (post.body as { data: { rule: string } }).data.rule === 'delivery_success');
    const outage = await runAlertsAt(testEnv, Date.now());
    expect(ofRule(outage.changes)).toEqual([expect.objectContaining({ rule: 'delivery_success', scope: 'startmessaging', change: 'opened' })]);
    expect(outage.changes).toContainEqual(expect.objectContaining({ rule: 'circuit_open', scope: 'startmessaging', change: 'opened' }));
    expect(successPosts()).toHaveLength(1);
    const opened = await verifiedNotice(successPosts()[0]!);
    expect(opened).toMatchObject({ type: 'alert.opened', data: { rule: 'delivery_success', detail: { calls: 5, sent: 0 } } });
    const postsAfterOutage = posts.length;
    expect((await runAlertsAt(testEnv, Date.now())).changes).toEqual([]);
    expect(posts).toHaveLength(postsAfterOutage);

    // The provider is back; by the time the retries run, the failed calls are older than the window.
    providerDown = false;
    await elapse(301_000, ids);
    await deliverSendJobs(testEnv, ids);
    expect(providerCalls).toHaveLength(10);
    const recovered = await runAlertsAt(testEnv, Date.now());
    expect(ofRule(recovered.changes)).toEqual([expect.objectContaining({ id: opened.data.incidentId, change: 'cleared' })]);
    expect(successPosts()).toHaveLength(2);
    expect(await verifiedNotice(successPosts()[1]!)).toMatchObject({ type: 'alert.cleared', data: { incidentId: opened.data.incidentId } });

    expect(ofRule((await runAlertsAt(testEnv, Date.now())).changes)).toEqual([]);
    expect(successPosts()).toHaveLength(2);
    expect((await incidentRows()).filter((row) => row.rule === 'delivery_success')).toHaveLength(1);

    // The same story in the metrics (the local fallback: the test Worker has no Analytics Engine binding).
    const calls = localMetrics.snapshot().filter((entry) => entry.metric === 'provider_call' && entry.dimensions[0] === 'startmessaging');
    const count = (outcome: string) => calls.filter((entry) => entry.dimensions[1] === outcome).reduce((sum, entry) => sum + entry.count, 0);
    expect(count('retry')).toBeGreaterThanOrEqual(5);
    expect(count('sent')).toBeGreaterThanOrEqual(5);
  });
});

describe('signals from the request path', () => {
  it('a spent global budget marks its signal and global_budget_spent fires', async () => {
    const vars = { GLOBAL_SEND_LIMIT: '8/60', GLOBAL_SHARDS: '2', IP_LIMITS: '1000/60' };
    const testEnv = alertEnv(vars);
    const posts = alertReceiver();
    const before = Date.now();
    const responses = await Promise.all(Array.from({ length: 30 }, () => postOtp(testEnv)));
    expect(responses.filter((response) => response.status === 503).length).toBeGreaterThan(0);
    expect(await signalLastAt(env.DB, 'global_budget_exhausted')).toBeGreaterThanOrEqual(before);

    const run = await runAlertsAt(testEnv, Date.now());
    expect(run.changes.map((change) => change.rule)).toContain('global_budget_spent');
    expect(posts.map((post) => (post.body as { data: { rule: string } }).data.rule)).toContain('global_budget_spent');
  });
});

describe('the cron', () => {
  it('the every-minute scheduled event runs the alerts, and an unanswering receiver holds up neither it nor the sweep', async () => {
    await env.DB.prepare("INSERT INTO dead_letters (message_id, request_id, reason, received_at) VALUES ('m-cron', NULL, 'retries_exhausted', ?1)")
      .bind(Date.now())
      .run();
    const testEnv = alertEnv({ WEBHOOK_TIMEOUT_MS: '100' });
    const posts = alertReceiver(() => new Promise<Response>(() => {}));
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '* * * * *', scheduledTime: Date.now() }), testEnv, ctx);
    await waitOnExecutionContext(ctx);
    expect(posts).toHaveLength(1);
    expect(await incidentRows()).toEqual([expect.objectContaining({ rule: 'dead_letters', opened_notice: 'pending', notice_attempts: 1 })]);
  });

  it('the daily retention cron does not run them', async () => {
    await env.DB.prepare("INSERT INTO dead_letters (message_id, request_id, reason, received_at) VALUES ('m-daily', NULL, 'retries_exhausted', ?1)")
      .bind(Date.now())
      .run();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '17 3 * * *', scheduledTime: Date.now() }), alertEnv(), ctx);
    await waitOnExecutionContext(ctx);
    expect(await incidentRows()).toEqual([]);
  });
});
