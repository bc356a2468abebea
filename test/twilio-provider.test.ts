import { describe, expect, it } from 'vitest';
import { renderMessageBody } from '../src/providers/message-body';
import { type TwilioOptions, TwilioProvider } from '../src/providers/twilio';
import { attemptRows, requestRow, seedRequest, startMessagingEnv } from './support/fixtures';
import { interceptOrigin, json } from './support/outbound';
import { deliverSendJobs } from './support/queue';

const TWILIO_URL = 'https://twilio.test';
const SID = `AC${'0'.repeat(31)}1`;
const TOKEN = 'twilio-test-auth-token';
const SEND_ROUTE = `POST /2010-04-01/Accounts/${SID}/Messages.json`;
const STATUS_ROUTE = `GET /2010-04-01/Accounts/${SID}/Messages/:sid`;
const MESSAGE_SID = `SM${'a'.repeat(32)}`;

const options = (overrides: Partial<TwilioOptions> = {}): TwilioOptions => ({
  baseUrl: TWILIO_URL,
  accountSid: SID,
  authToken: TOKEN,
  from: '+15005550006',
  messagingServiceSid: null,
  whatsappFrom: '+14155238886',
  timeoutMs: 300,
  ...overrides,
});

const request = (overrides: Record<string, unknown> = {}) => ({
  requestId: 'otp_twiliotest',
  phoneNumber: '+919876543210',
  code: '123456',
  idempotencyKey: 'otpd-otp_twiliotest',
  attemptNumber: 1,
  ...overrides,
});

const created = (status = 'queued') => json(201, { sid: MESSAGE_SID, status, error_code: null, error_message: null, to: '+919876543210' });
const twilioError = (httpStatus: number, code: number, message = 'The To number +919876543210 is not valid') =>
  json(httpStatus, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status: httpStatus });

/** The form a call carried; the guard keeps a non-JSON body as text. */
const form = (body: unknown) => Object.fromEntries(new URLSearchParams(String(body)));

describe('Twilio: sending', () => {
  it('posts a form with To, From and the body, with Basic auth, and reads the message sid', async () => {
    const calls = interceptOrigin(TWILIO_URL, { [SEND_ROUTE]: () => created() });
    const outcome = await new TwilioProvider(options()).send(request({ text: { appName: 'Shop', smsDomain: 'shop.example' } }));
    expect(outcome).toEqual({ kind: 'sent', httpStatus: 201, messageId: MESSAGE_SID });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.headers).toMatchObject({
      authorization: `Basic ${btoa(`${SID}:${TOKEN}`)}`,
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form(calls[0]!.body)).toEqual({
      To: '+919876543210',
      From: '+15005550006',
      Body: '123456 is your Shop verification code.\n\n@shop.example #123456',
    });
  });

  it('sends through the messaging service when one is set, and WhatsApp with whatsapp: addresses', async () => {
    const calls = interceptOrigin(TWILIO_URL, { [SEND_ROUTE]: () => created() });
    const service = `MG${'b'.repeat(32)}`;
    await new TwilioProvider(options({ messagingServiceSid: service })).send(request());
    await new TwilioProvider(options()).send(request({ channel: 'whatsapp' }));
    expect(form(calls[0]!.body)).toMatchObject({ To: '+919876543210', MessagingServiceSid: service });
    expect(form(calls[0]!.body)).not.toHaveProperty('From');
    expect(form(calls[1]!.body)).toMatchObject({ To: 'whatsapp:+919876543210', From: 'whatsapp:+14155238886' });
  });

  it('offers WhatsApp only with a WhatsApp sender', async () => {
    const provider = new TwilioProvider(options({ whatsappFrom: null }));
    expect(provider.channels).toEqual(['sms']);
    expect(await provider.send(request({ channel: 'whatsapp' }))).toMatchObject({ kind: 'permanent', errorCode: 'provider_channel_unavailable' });
  });

  it.each([
    [400, 21211, 'provider_invalid_number'],
    [400, 21614, 'provider_not_mobile'],
    [400, 21610, 'provider_recipient_opted_out'],
    [400, 21606, 'provider_rejected_request'],
    [401, 20003, 'provider_unauthorized'],
    [404, 20404, 'provider_endpoint_not_found'],
  ])('a %i with error %i is permanent: %s, the number redacted, the code kept', async (status, code, errorCode) => {
    interceptOrigin(TWILIO_URL, { [SEND_ROUTE]: () => twilioError(status, code) });
    const outcome = await new TwilioProvider(options()).send(request());
    expect(outcome).toMatchObject({ kind: 'permanent', httpStatus: status, errorCode });
    expect(outcome.kind === 'permanent' && outcome.message).toMatch(new RegExp(`^twilio ${code}: `));
    expect(JSON.stringify(outcome)).not.toContain('9876543210');
  });

  it.each([
    ['a 429', 'provider_rate_limited', false, () => twilioError(429, 20429, 'Too Many Requests')],
    ['error 20429 under another status', 'provider_rate_limited', false, () => twilioError(400, 20429, 'Too Many Requests')],
    ['a 503', 'provider_unavailable', false, () => new Response('unavailable', { status: 503 })],
    ['a 500 (the message may exist)', 'provider_unavailable', true, () => twilioError(500, 20500, 'Internal Server Error')],
    ['a 2xx that is not the resource', 'provider_bad_response', true, () => json(201, { ok: true })],
    ['a network error', 'provider_network_error', true, () => Promise.reject(new TypeError('connection reset'))],
    ['no answer within the timeout', 'provider_timeout', true, () => new Promise<Response>(() => {})],
  ])('%s is transient (%s), ambiguous: %s', async (_name, errorCode, ambiguous, respond) => {
    interceptOrigin(TWILIO_URL, { [SEND_ROUTE]: respond });
    const outcome = await new TwilioProvider(options()).send(request());
    expect(outcome).toMatchObject({ kind: 'transient', errorCode });
    expect(outcome.kind === 'transient' && Boolean(outcome.ambiguous)).toBe(ambiguous);
  });

  it('takes Retry-After from a 429 as the least delay', async () => {
    interceptOrigin(TWILIO_URL, { [SEND_ROUTE]: () => json(429, { code: 20429, message: 'Too Many Requests' }, { 'Retry-After': '7' }) });
    expect(await new TwilioProvider(options()).send(request())).toMatchObject({ kind: 'transient', retryAfterSeconds: 7 });
  });
});

describe('Twilio: message status', () => {
  const resource =
    (status: string, extra: Record<string, unknown> = {}) =>
    () =>
      json(200, { sid: MESSAGE_SID, status, error_code: null, error_message: null, date_updated: 'Tue, 01 Dec 2026 10:00:05 +0000', ...extra });

  it.each([
    ['accepted', 'queued'],
    ['queued', 'queued'],
    ['sending', 'queued'],
    ['sent', 'sent'],
    ['delivered', 'delivered'],
    ['read', 'delivered'],
    ['undelivered', 'failed'],
    ['failed', 'failed'],
  ])('%s reads as %s', async (twilioStatus, status) => {
    const calls = interceptOrigin(TWILIO_URL, { [STATUS_ROUTE]: resource(twilioStatus) });
    expect(await new TwilioProvider(options()).messageStatus(MESSAGE_SID)).toMatchObject({ kind: 'report', httpStatus: 200, status });
    expect(calls[0]!.params.sid).toBe(`${MESSAGE_SID}.json`);
  });

  it('a delivered message has its time; an undelivered one its error code', async () => {
    interceptOrigin(TWILIO_URL, {
      [STATUS_ROUTE]: (_call, index) => (index === 0 ? resource('delivered')() : resource('undelivered', { error_code: 30003 })()),
    });
    const provider = new TwilioProvider(options());
    expect(await provider.messageStatus(MESSAGE_SID)).toMatchObject({ deliveredAt: Date.parse('2026-12-01T10:00:05Z') });
    expect(await provider.messageStatus(MESSAGE_SID)).toMatchObject({ status: 'failed', errorMessage: 'twilio 30003: undelivered' });
  });

  it.each([
    ['404', () => twilioError(404, 20404, 'not found'), { kind: 'permanent', errorCode: 'provider_message_not_found' }],
    ['401', () => twilioError(401, 20003, 'auth'), { kind: 'permanent', errorCode: 'provider_unauthorized' }],
    ['503', () => new Response('', { status: 503 }), { kind: 'transient', errorCode: 'provider_unavailable' }],
    ['an unknown status', resource('teleported'), { kind: 'transient', errorCode: 'provider_bad_response' }],
  ])('%s', async (_name, respond, expected) => {
    interceptOrigin(TWILIO_URL, { [STATUS_ROUTE]: respond });
    expect(await new TwilioProvider(options()).messageStatus(MESSAGE_SID)).toMatchObject(expected);
  });
});

describe('message body', () => {
  it('puts the code first, then the app, and the autofill line only with a domain', () => {
    expect(renderMessageBody('4821', { appName: null })).toBe('4821 is your verification code.');
    expect(renderMessageBody('4821', { appName: 'Shop', smsLocale: 'es' })).toBe('4821 es tu código de verificación de Shop.');
    expect(renderMessageBody('4821', { appName: '{code} App', smsTemplate: '{code}: {app}', smsDomain: 'a.example' })).toBe(
      '4821: {code} App\n\n@a.example #4821',
    );
  });
});

describe('Twilio through the send path', () => {
  it('PROVIDER_ORDER=twilio sends the derived code through Twilio and names it on the attempt', async () => {
    const { id } = await seedRequest();
    const calls = interceptOrigin(TWILIO_URL, { [SEND_ROUTE]: () => created() });
    const testEnv = startMessagingEnv({
      PROVIDER_ORDER: 'twilio',
      TWILIO_BASE_URL: TWILIO_URL,
      TWILIO_ACCOUNT_SID: SID,
      TWILIO_AUTH_TOKEN: TOKEN,
      TWILIO_FROM: '+15005550006',
    });
    await deliverSendJobs(testEnv, [id]);
    expect(calls).toHaveLength(1);
    expect(form(calls[0]!.body).Body).toMatch(/^\d{6} is your Test suite verification code\.$/);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', provider_message_id: MESSAGE_SID });
    expect(await attemptRows(id)).toEqual([expect.objectContaining({ provider: 'twilio', outcome: 'sent' })]);
  });
});
