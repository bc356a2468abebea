import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { type StatusChecks, statusCheck, statusChecks } from '../src/queue/messages';
import { withKey } from './support/apps';
import { attemptRows, PROVIDER_URL, requestRow, SEND_ROUTE, seedRequest, uniquePhone } from './support/fixtures';
import { interceptOrigin, json } from './support/outbound';
import { withOwnPacer } from './support/pacer';
import { smAccepted, TWILIO_MESSAGE_SID, TWILIO_SEND_ROUTE, TWILIO_STATUS_ROUTE, TWILIO_URL, twilioCreated, twoProviderEnv } from './support/providers';
import { deliver, deliverSendJobs } from './support/queue';
import { recordingQueue, withQueue } from './support/recording-queue';

const form = (body: unknown) => Object.fromEntries(new URLSearchParams(String(body)));
const twilioStatus = (status: string) => () =>
  json(200, { sid: TWILIO_MESSAGE_SID, status, error_code: status === 'undelivered' ? 63016 : null, date_updated: null });

/** A queued request that asked for `channel`, sent through the two intercepted providers with a queue the test reads. */
async function autoRequest(channel: 'auto' | 'whatsapp' = 'auto') {
  const { id, phoneNumber } = await seedRequest();
  await env.DB.prepare('UPDATE otp_requests SET channel = ?1 WHERE id = ?2').bind(channel, id).run();
  const queue = recordingQueue();
  const { testEnv } = withOwnPacer(withQueue(queue.binding, twoProviderEnv()));
  return { id, phoneNumber, queue, testEnv };
}

describe('channel in POST /v1/otp', () => {
  const post = (body: object) =>
    SELF.fetch('https://otp.test/v1/otp', { method: 'POST', headers: withKey({ 'Content-Type': 'application/json' }), body: JSON.stringify(body) });

  it('is sms by default and recorded; whatsapp without a provider that has it is 422 channel_not_available; auto is always taken', async () => {
    const plain = await post({ phoneNumber: uniquePhone() });
    expect(plain.status).toBe(202);
    expect(await requestRow((await plain.json<{ requestId: string }>()).requestId)).toMatchObject({ channel: 'sms' });
    const whatsapp = await post({ phoneNumber: uniquePhone(), channel: 'whatsapp' });
    expect(whatsapp.status).toBe(422);
    expect((await whatsapp.json<{ error: { code: string } }>()).error.code).toBe('channel_not_available');
    const auto = await post({ phoneNumber: uniquePhone(), channel: 'auto' });
    expect(auto.status).toBe(202);
    expect(await requestRow((await auto.json<{ requestId: string }>()).requestId)).toMatchObject({ channel: 'auto' });
    expect((await post({ phoneNumber: uniquePhone(), channel: 'telegram' })).status).toBe(400);
  });
});

describe('auto: WhatsApp first, SMS when it is not delivered in time', () => {
  it('sends by WhatsApp, checks it after the app’s timeout, and on "undelivered" sends the same code by SMS', async () => {
    const { id, phoneNumber, queue, testEnv } = await autoRequest();
    const twilio = interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => twilioCreated(), [TWILIO_STATUS_ROUTE]: twilioStatus('undelivered') });
    const sm = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => smAccepted('msg_sms') });

    await deliverSendJobs(testEnv, [id]);
    expect(form(twilio[0]!.body)).toMatchObject({ To: `whatsapp:${phoneNumber}`, From: 'whatsapp:+14155238886' });
    expect(await requestRow(id)).toMatchObject({ status: 'sent', sent_provider: 'twilio', sent_channel: 'whatsapp' });
    // The first check waits the app's WhatsApp timeout (30 s by default), not DELIVERY_CHECK_BASE_SECONDS.
    const [firstCheck] = queue.take();
    expect(firstCheck).toEqual({ body: statusChecks([{ requestId: id, check: 1 }]), delaySeconds: 30 });

    await deliver(testEnv, 'otp-send', [firstCheck!.body]);
    expect(await requestRow(id)).toMatchObject({ status: 'queued', provider_message_id: null, delivery_status: null, sms_fallback_at: expect.any(Number) });
    expect(queue.take()).toEqual([{ body: { type: 'send', v: 1, requestId: id }, delaySeconds: undefined }]);

    await deliverSendJobs(testEnv, [id], 2);
    expect(sm).toHaveLength(1);
    expect(form(twilio[0]!.body).Body).toContain((sm[0]!.body as { variables: { otp: string } }).variables.otp);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', sent_provider: 'startmessaging', sent_channel: 'sms', provider_message_id: 'msg_sms' });
    expect(await attemptRows(id)).toEqual([
      expect.objectContaining({ provider: 'twilio', channel: 'whatsapp', outcome: 'sent' }),
      expect.objectContaining({ provider: 'startmessaging', channel: 'sms', outcome: 'sent' }),
    ]);
    // The SMS's checks follow the WhatsApp message's, numbered on.
    expect(queue.take()).toEqual([{ body: statusChecks([{ requestId: id, check: 2 }]), delaySeconds: 30 }]);
    const status = await SELF.fetch(`https://otp.test/v1/otp/${id}`, { headers: withKey() });
    expect(await status.json()).toMatchObject({ channel: 'auto', deliveredVia: { provider: 'startmessaging', channel: 'sms' } });
  });

  it('a WhatsApp message delivered by then ends it there: no SMS', async () => {
    const { id, queue, testEnv } = await autoRequest();
    interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => twilioCreated(), [TWILIO_STATUS_ROUTE]: twilioStatus('delivered') });
    await deliverSendJobs(testEnv, [id]);
    queue.take();
    await deliver(testEnv, 'otp-send', [statusCheck(id, 1)]);
    expect(await requestRow(id)).toMatchObject({ status: 'delivered', sent_channel: 'whatsapp', sms_fallback_at: null });
    expect(queue.take()).toEqual([]);
  });

  it('a WhatsApp message still only "sent" at the deadline falls back too', async () => {
    const { id, queue, testEnv } = await autoRequest();
    interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => twilioCreated(), [TWILIO_STATUS_ROUTE]: twilioStatus('sent') });
    await deliverSendJobs(testEnv, [id]);
    queue.take();
    await deliver(testEnv, 'otp-send', [statusCheck(id, 1)]);
    expect(await requestRow(id)).toMatchObject({ status: 'queued', sms_fallback_at: expect.any(Number) });
  });

  it('WhatsApp refused at send (a permanent error) goes by SMS at once instead of failing', async () => {
    const { id, testEnv } = await autoRequest();
    interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => json(400, { code: 63003, message: 'not a WhatsApp user' }) });
    const sm = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => smAccepted() });
    const first = await deliverSendJobs(testEnv, [id]);
    expect(first.result.retryMessages).toHaveLength(1);
    expect(await requestRow(id)).toMatchObject({ status: 'queued', sms_fallback_at: expect.any(Number) });
    await deliverSendJobs(testEnv, [id], 2);
    expect(sm).toHaveLength(1);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', sent_channel: 'sms' });
  });

  it('a batch’s first checks travel in one message per delay and check number', async () => {
    const queue = recordingQueue();
    const { testEnv } = withOwnPacer(withQueue(queue.binding, twoProviderEnv({ DELIVERY_CHECK_BASE_SECONDS: '45' })));
    const [fellBack, whatsapp, sms, otherSms] = await Promise.all([seedRequest(), seedRequest(), seedRequest(), seedRequest()]);
    for (const { id } of [fellBack!, whatsapp!]) await env.DB.prepare("UPDATE otp_requests SET channel = 'auto' WHERE id = ?1").bind(id).run();
    interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => twilioCreated(), [TWILIO_STATUS_ROUTE]: twilioStatus('undelivered') });
    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => smAccepted() });
    // One `auto` request's WhatsApp message was not delivered in time: it goes on by SMS.
    await deliverSendJobs(testEnv, [fellBack!.id]);
    await deliver(testEnv, 'otp-send', [queue.take()[0]!.body]);
    expect(await requestRow(fellBack!.id)).toMatchObject({ status: 'queued', sms_fallback_at: expect.any(Number) });
    queue.take();

    await deliverSendJobs(
      testEnv,
      [fellBack!, whatsapp!, sms!, otherSms!].map(({ id }) => id),
    );
    const byDelayAndCheck = queue
      .take()
      .map(({ body, delaySeconds }) => {
        const { checks } = body as StatusChecks;
        return { delaySeconds, check: checks[0]!.check, requests: checks.map((check) => check.requestId).sort() };
      })
      .sort((a, b) => a.delaySeconds! - b.delaySeconds! || a.check - b.check);
    expect(byDelayAndCheck).toEqual([
      // The WhatsApp message: checked when its time to be delivered is up.
      { delaySeconds: 30, check: 1, requests: [whatsapp!.id] },
      // Both SMS sent afresh, together.
      { delaySeconds: 45, check: 1, requests: [sms!.id, otherSms!.id].sort() },
      // The fallback SMS: its checks are numbered on from the WhatsApp message's.
      { delaySeconds: 45, check: 2, requests: [fellBack!.id] },
    ]);
  });

  it('channel whatsapp asked explicitly never falls back', async () => {
    const { id, queue, testEnv } = await autoRequest('whatsapp');
    interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => twilioCreated(), [TWILIO_STATUS_ROUTE]: twilioStatus('undelivered') });
    await deliverSendJobs(testEnv, [id]);
    expect(queue.take()).toEqual([{ body: statusChecks([{ requestId: id, check: 1 }]), delaySeconds: 30 }]);
    await deliver(testEnv, 'otp-send', [statusCheck(id, 1)]);
    expect(await requestRow(id)).toMatchObject({ status: 'failed', last_error_code: 'provider_delivery_failed' });
  });
});
