import { describe, expect, it } from 'vitest';
import { deriveCode } from '../src/codes';
import { loadConfig } from '../src/config';
import { sweep } from '../src/cron/sweeper';
import { makeApp, TEST_APP } from './support/apps';
import { PROVIDER_URL, requestRow, SEND_ROUTE, TEST_OTP_SECRET } from './support/fixtures';
import { interceptOrigin, json, type RecordedCall } from './support/outbound';
import { deliver } from './support/queue';
import {
  deliverWebhookJobs,
  deliverWebhookJobsAt,
  eventRows,
  providerAccepting,
  receiver,
  sendCode,
  setReceiver,
  takeWebhookJobs,
  verified,
  verifyCode,
  webhookTestEnv,
} from './support/webhooks';

/**
 * A request's life as an app's receiver sees it: each change of the request is one signed post,
 * with the body docs/webhooks.md documents, verified here with the `standardwebhooks` package.
 */

type Env3 = ReturnType<typeof webhookTestEnv>;

/** Runs the queued send jobs, or the queued first status checks, through the Worker's queue handler. */
async function runSendQueue({ testEnv, sends }: Env3, type: 'send' | 'status_checks') {
  const jobs = sends.take();
  const wanted = jobs.filter((job) => (job.body as { type: string }).type === type);
  for (const job of jobs) if (!wanted.includes(job)) sends.messages.push(job);
  if (wanted.length > 0)
    await deliver(
      testEnv,
      'otp-send',
      wanted.map((job) => job.body),
    );
}

/** Posts the webhook jobs queued so far for `requestId` (as if at `now`); answers their event ids. */
async function postEvents({ testEnv, hooks }: Env3, requestId: string, now?: number): Promise<string[]> {
  const ids = takeWebhookJobs(hooks, requestId);
  if (ids.length > 0 && now === undefined) await deliverWebhookJobs(testEnv, ids);
  if (ids.length > 0 && now !== undefined) await deliverWebhookJobsAt(testEnv, ids, now);
  return ids;
}

function expectEvent(
  call: RecordedCall,
  secret: string,
  expected: { type: string; requestId: string; appId: string; errorCode?: string | null; phoneNumber: string; provider?: string | null },
) {
  const body = verified(call, secret);
  const status = expected.type.slice(4);
  expect(body).toEqual({
    id: `evt_${expected.requestId.slice(4)}_${status}`,
    type: expected.type,
    timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    data: {
      requestId: expected.requestId,
      appId: expected.appId,
      status,
      occurredAt: body.timestamp,
      errorCode: expected.errorCode ?? null,
      // The sender, on the events that report a message.
      provider: ['sent', 'delivered'].includes(status) ? (expected.provider ?? 'startmessaging') : null,
      channel: ['sent', 'delivered'].includes(status) ? 'sms' : null,
      phoneNumber: expected.phoneNumber,
    },
  });
  expect(call.headers['webhook-id']).toBe(body.id);
  expect(call.headers['content-type']).toBe('application/json');
  return body;
}

const masked = (phone: string) => `+${phone.slice(1, 3)}${'*'.repeat(phone.length - 7)}${phone.slice(-4)}`;

describe('a receiver gets every event of a request, signed', () => {
  it('sent → delivered → verified: one post each, in order, with the documented body; the number masked', async () => {
    const app = await makeApp();
    const secret = await setReceiver(app.id);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const setup = webhookTestEnv();
    providerAccepting('msg_life', 'delivered');
    const calls = receiver();
    const { requestId, phoneNumber } = await sendCode(setup.testEnv, app.secretKey);
    expect(takeWebhookJobs(setup.hooks)).toEqual([]);

    await runSendQueue(setup, 'send');
    expect(await postEvents(setup, requestId)).toEqual([`evt_${requestId.slice(4)}_sent`]);
    await runSendQueue(setup, 'status_checks');
    expect(await postEvents(setup, requestId)).toEqual([`evt_${requestId.slice(4)}_delivered`]);
    expect((await verifyCode(setup.testEnv, app.secretKey, requestId)).status).toBe(200);
    expect(await postEvents(setup, requestId)).toEqual([`evt_${requestId.slice(4)}_verified`]);

    expect(calls.map((call) => call.body && (call.body as { type: string }).type)).toEqual(['otp.sent', 'otp.delivered', 'otp.verified']);
    const row = await requestRow(requestId);
    const bodies = ['otp.sent', 'otp.delivered', 'otp.verified'].map((type, index) =>
      expectEvent(calls[index]!, secret, { type, requestId, appId: app.id, phoneNumber: masked(phoneNumber) }),
    );
    expect(bodies.map((body) => body.timestamp)).toEqual([row.sent_at, row.delivered_at, row.verified_at].map((ms) => new Date(ms!).toISOString()));
    // Never the code, nor the full number.
    const code = await deriveCode(TEST_OTP_SECRET, requestId, 6);
    for (const call of calls) {
      expect(call.rawBody).not.toContain(code);
      expect(call.rawBody).not.toContain(phoneNumber.slice(3));
    }
    // Each event delivered, once.
    expect((await eventRows(requestId)).map((event) => [event.type, event.state])).toEqual([
      ['otp.sent', 'delivered'],
      ['otp.delivered', 'delivered'],
      ['otp.verified', 'delivered'],
      ['otp.expired', 'scheduled'],
    ]);
  });

  it('failed: a send the provider refuses, and an SMS its delivery report says failed; with the error code', async () => {
    const app = await makeApp();
    const secret = await setReceiver(app.id);
    const setup = webhookTestEnv();
    const calls = receiver();

    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => json(400, { success: false, message: 'invalid number' }) });
    const refused = await sendCode(setup.testEnv, app.secretKey);
    await runSendQueue(setup, 'send');
    await postEvents(setup, refused.requestId);

    providerAccepting('msg_undelivered', 'failed');
    const undelivered = await sendCode(setup.testEnv, app.secretKey);
    await runSendQueue(setup, 'send');
    await postEvents(setup, undelivered.requestId);
    await runSendQueue(setup, 'status_checks');
    await postEvents(setup, undelivered.requestId);

    expect(calls).toHaveLength(3);
    expectEvent(calls[0]!, secret, {
      type: 'otp.failed',
      requestId: refused.requestId,
      appId: app.id,
      errorCode: 'provider_rejected_request',
      phoneNumber: masked(refused.phoneNumber),
    });
    expectEvent(calls[1]!, secret, { type: 'otp.sent', requestId: undelivered.requestId, appId: app.id, phoneNumber: masked(undelivered.phoneNumber) });
    expectEvent(calls[2]!, secret, {
      type: 'otp.failed',
      requestId: undelivered.requestId,
      appId: app.id,
      errorCode: 'provider_delivery_failed',
      phoneNumber: masked(undelivered.phoneNumber),
    });
  });

  it('expired: a code sent but never verified (at its expiry), and one that expired before it could be sent', async () => {
    const app = await makeApp({ otpTtlSeconds: 60 });
    const secret = await setReceiver(app.id, { includePhoneNumber: true });
    const setup = webhookTestEnv();
    providerAccepting('msg_expiring');
    const calls = receiver();

    const unverified = await sendCode(setup.testEnv, app.secretKey);
    await runSendQueue(setup, 'send');
    await postEvents(setup, unverified.requestId);
    const unsent = await sendCode(setup.testEnv, app.secretKey);
    setup.sends.take(); // its send job is lost: the code expires waiting

    const { expires_at: expiresAt } = await requestRow(unverified.requestId);
    const later = expiresAt + 61_000;
    await sweep(setup.testEnv, later, loadConfig(setup.testEnv));
    await postEvents(setup, unverified.requestId, later);
    await postEvents(setup, unsent.requestId, later);

    const [, expired, expiredUnsent] = calls;
    const body = expectEvent(expired!, secret, {
      type: 'otp.expired',
      requestId: unverified.requestId,
      appId: app.id,
      errorCode: 'code_expired',
      phoneNumber: unverified.phoneNumber,
    });
    expect(body.timestamp).toBe(new Date(expiresAt).toISOString());
    expectEvent(expiredUnsent!, secret, {
      type: 'otp.expired',
      requestId: unsent.requestId,
      appId: app.id,
      errorCode: 'expired_before_delivery',
      phoneNumber: unsent.phoneNumber,
    });
    expect(calls).toHaveLength(3);
  });

  it('a code verified in time gets no otp.expired: its scheduled event is dropped when the time comes', async () => {
    const app = await makeApp();
    await setReceiver(app.id);
    const setup = webhookTestEnv();
    providerAccepting('msg_in_time');
    receiver();
    const { requestId } = await sendCode(setup.testEnv, app.secretKey);
    await runSendQueue(setup, 'send');
    await postEvents(setup, requestId);
    expect((await verifyCode(setup.testEnv, app.secretKey, requestId)).status).toBe(200);
    await postEvents(setup, requestId);
    const { expires_at: expiresAt } = await requestRow(requestId);
    await sweep(setup.testEnv, expiresAt + 1000, loadConfig(setup.testEnv));
    expect(await postEvents(setup, requestId)).toEqual([]);
    expect((await eventRows(requestId)).map((event) => event.type)).toEqual(['otp.sent', 'otp.verified']);
  });

  it('an app that chose some events gets only those; a test number is sent at once and heard of at once', async () => {
    const app = await makeApp({ testNumbers: [{ phoneNumber: '+15005550006', code: '123456' }] });
    const secret = await setReceiver(app.id, { events: ['otp.sent', 'otp.verified'] });
    const setup = webhookTestEnv();
    providerAccepting('msg_chosen', 'delivered');
    const calls = receiver();
    const { requestId } = await sendCode(setup.testEnv, app.secretKey);
    await runSendQueue(setup, 'send');
    await runSendQueue(setup, 'status_checks');
    await postEvents(setup, requestId);
    expect((await eventRows(requestId)).map((event) => event.type)).toEqual(['otp.sent']);

    const test = await sendCode(setup.testEnv, app.secretKey, '+15005550006');
    expect(await postEvents(setup, test.requestId)).toEqual([`evt_${test.requestId.slice(4)}_sent`]);
    expectEvent(calls.at(-1)!, secret, { type: 'otp.sent', requestId: test.requestId, appId: app.id, phoneNumber: '+15*****0006', provider: 'test_number' });
  });

  it('an app without a webhook gets no event rows and no jobs, through the same life', async () => {
    const setup = webhookTestEnv();
    providerAccepting('msg_none', 'delivered');
    const { requestId } = await sendCode(setup.testEnv, TEST_APP.secretKey);
    await runSendQueue(setup, 'send');
    await runSendQueue(setup, 'status_checks');
    expect((await verifyCode(setup.testEnv, TEST_APP.secretKey, requestId)).status).toBe(200);
    expect((await requestRow(requestId)).status).toBe('verified');
    expect(await eventRows(requestId)).toEqual([]);
    expect(setup.hooks.messages).toEqual([]);
  });

  it('events of changes made before the webhook was set are not sent', async () => {
    const app = await makeApp();
    const setup = webhookTestEnv();
    providerAccepting('msg_before', 'delivered');
    const { requestId } = await sendCode(setup.testEnv, app.secretKey);
    await runSendQueue(setup, 'send');
    await setReceiver(app.id);
    await runSendQueue(setup, 'status_checks');
    expect((await eventRows(requestId)).map((event) => event.type)).toEqual(['otp.delivered']);
  });
});
