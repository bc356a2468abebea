import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { deriveCode } from '../src/codes';
import { makeApp, TEST_APP, withKey } from './support/apps';
import { recordingQueue } from './support/faults';
import { PROVIDER_URL, requestRow, SEND_ROUTE, startMessagingEnv, TEST_OTP_SECRET, uniquePhone } from './support/fixtures';
import { interceptOrigin, json } from './support/outbound';
import { deliverSendJobs } from './support/queue';
import { fetchWithEnv } from './support/worker';

const call = (path: string, key: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}, testEnv: Env = env) =>
  fetchWithEnv(
    new Request(`https://otp.test${path}`, {
      method: init.method ?? 'GET',
      headers: withKey({ ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' }), ...init.headers }, key),
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    }),
    testEnv,
  );

async function create(key: string, phoneNumber = uniquePhone(), headers: Record<string, string> = {}, testEnv: Env = env) {
  const response = await call('/v1/otp', key, { method: 'POST', body: { phoneNumber }, headers }, testEnv);
  return { response, body: await response.json<{ requestId: string; error?: { code: string } }>() };
}

describe('one app never sees another’s requests', () => {
  it('status and verify of another app’s request answer 404 exactly like a missing one, and count nothing', async () => {
    const other = await makeApp();
    const { body } = await create(TEST_APP.secretKey);
    const missing = 'otp_AAAAAAAAAAAAAAAAAAAAAA';
    const code = await deriveCode(TEST_OTP_SECRET, body.requestId, 6);

    const status = await call(`/v1/otp/${body.requestId}`, other.secretKey);
    const statusOfMissing = await call(`/v1/otp/${missing}`, other.secretKey);
    expect([status.status, statusOfMissing.status]).toEqual([404, 404]);
    const [a, b] = [
      await status.json<{ error: { code: string; message: string } }>(),
      await statusOfMissing.json<{ error: { code: string; message: string } }>(),
    ];
    expect([a.error.code, a.error.message]).toEqual([b.error.code, b.error.message]);

    const verify = await call(`/v1/otp/${body.requestId}/verify`, other.secretKey, { method: 'POST', body: { code } });
    expect(verify.status).toBe(404);
    expect((await requestRow(body.requestId)).verify_attempts).toBe(0);
    // The owner still can.
    expect((await call(`/v1/otp/${body.requestId}`, TEST_APP.secretKey)).status).toBe(200);
    expect((await call(`/v1/otp/${body.requestId}/verify`, TEST_APP.secretKey, { method: 'POST', body: { code } })).status).toBe(200);
  });

  it('a request records the app that asked; a new code supersedes only the same app’s older one', async () => {
    const other = await makeApp();
    const phone = uniquePhone();
    // Per-phone limits hold across apps; widened here so one phone can ask three times.
    const roomy = { ...env, PHONE_LIMITS: '100/60', PHONE_COOLDOWN_SECONDS: '0' } as Env;
    const mine = await create(TEST_APP.secretKey, phone, {}, roomy);
    expect((await requestRow(mine.body.requestId)).app_id).toBe(TEST_APP.id);
    const theirs = await create(other.secretKey, phone, {}, roomy);
    expect((await requestRow(theirs.body.requestId)).app_id).toBe(other.id);
    expect((await requestRow(mine.body.requestId)).status).toBe('queued');
    const mineAgain = await create(TEST_APP.secretKey, phone, {}, roomy);
    expect((await requestRow(mineAgain.body.requestId)).status).toBe('queued');
    expect((await requestRow(mine.body.requestId)).status).toBe('superseded');
    expect((await requestRow(theirs.body.requestId)).status).toBe('queued');
  });

  it('Idempotency-Key is scoped per app: the same key from two apps makes two requests; each replays its own', async () => {
    const other = await makeApp();
    const key = `shared-${crypto.randomUUID()}`;
    const [phoneA, phoneB] = [uniquePhone(), uniquePhone()];
    const first = await create(TEST_APP.secretKey, phoneA, { 'Idempotency-Key': key });
    const second = await create(other.secretKey, phoneB, { 'Idempotency-Key': key });
    expect([first.response.status, second.response.status]).toEqual([202, 202]);
    expect(second.body.requestId).not.toBe(first.body.requestId);
    const replayA = await create(TEST_APP.secretKey, phoneA, { 'Idempotency-Key': key });
    const replayB = await create(other.secretKey, phoneB, { 'Idempotency-Key': key });
    expect([replayA.body.requestId, replayB.body.requestId]).toEqual([first.body.requestId, second.body.requestId]);
    expect(replayB.response.headers.get('Idempotent-Replayed')).toBe('true');
  });
});

describe('per-app settings, end to end', () => {
  it('code length and lifetime: the request keeps them; verify wants that many digits', async () => {
    const app = await makeApp({ otpLength: 4, otpTtlSeconds: 60 });
    const before = Date.now();
    const { body } = await create(app.secretKey);
    const row = await requestRow(body.requestId);
    expect(row.code_length).toBe(4);
    expect(row.expires_at - row.created_at).toBe(60_000);
    expect(row.created_at).toBeGreaterThanOrEqual(before);
    const sixDigits = await call(`/v1/otp/${body.requestId}/verify`, app.secretKey, { method: 'POST', body: { code: '123456' } });
    expect((await sixDigits.json<{ error: { code: string } }>()).error.code).toBe('invalid_code_format');
    const code = await deriveCode(TEST_OTP_SECRET, body.requestId, 4);
    // The sandbox sends (and lists) the four-digit code.
    await deliverSendJobs(env, [body.requestId]);
    const listed = await (await fetchWithEnv(new Request(`https://otp.test/v1/sandbox/messages?requestId=${body.requestId}`), env)).json<{
      messages: unknown[];
    }>();
    expect(listed.messages).toEqual([expect.objectContaining({ requestId: body.requestId, appId: app.id, code })]);
    const verified = await call(`/v1/otp/${body.requestId}/verify`, app.secretKey, { method: 'POST', body: { code } });
    expect(verified.status).toBe(200);
    expect(await verified.json()).toMatchObject({ verified: true, requestId: body.requestId, phoneNumber: row.phone_number });
  });

  it('the SMS carries the app’s code length and template id', async () => {
    const app = await makeApp({ otpLength: 8, templateId: 'tmpl_login_42' });
    const { body } = await create(app.secretKey);
    const calls = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => json(201, { success: true, data: { messageId: 'm-1' } }) });
    await deliverSendJobs(startMessagingEnv(), [body.requestId]);
    expect(calls).toHaveLength(1);
    const sent = calls[0]!.body as { templateId?: string; variables: { otp: string } };
    expect(sent.templateId).toBe('tmpl_login_42');
    expect(sent.variables.otp).toBe(await deriveCode(TEST_OTP_SECRET, body.requestId, 8));
  });

  it('allowed countries replace the deployment’s list for the app', async () => {
    const app = await makeApp({ allowedCountries: ['GB'] });
    const refused = await create(app.secretKey, uniquePhone());
    expect(refused.response.status).toBe(422);
    expect(refused.body.error?.code).toBe('country_not_allowed');
    expect((await create(app.secretKey, '+447400900123')).response.status).toBe(202);
  });

  it('a daily SMS budget: once spent, 429 app_budget_exhausted with Retry-After; other apps go on', async () => {
    const app = await makeApp({ dailySmsBudget: 2 });
    expect((await create(app.secretKey)).response.status).toBe(202);
    expect((await create(app.secretKey)).response.status).toBe(202);
    const third = await create(app.secretKey);
    expect(third.response.status).toBe(429);
    expect(third.body.error?.code).toBe('app_budget_exhausted');
    expect(Number(third.response.headers.get('Retry-After'))).toBeGreaterThan(0);
    expect((await create(TEST_APP.secretKey)).response.status).toBe(202);
  });
});

describe('test numbers', () => {
  it('never reach a provider or the queue, are marked in the audit, and verify with their fixed code only', async () => {
    const testNumber = '+15005550006';
    const app = await makeApp({ testNumbers: [{ phoneNumber: testNumber, code: '2468' }], allowedCountries: ['IN'] });
    const queue = recordingQueue();
    // The real provider client, with no route intercepted: any provider call would fail the test.
    const testEnv = { ...startMessagingEnv(), SEND_QUEUE: queue.queue } as Env;
    const { response, body } = await create(app.secretKey, testNumber, {}, testEnv);
    expect(response.status).toBe(202);
    expect(queue.sent).toHaveLength(0);
    const row = await requestRow(body.requestId);
    expect([row.status, row.test_number, row.code_length]).toEqual(['sent', 1, 4]);
    const attempts = await env.DB.prepare('SELECT outcome, provider FROM delivery_attempts WHERE request_id = ?1').bind(body.requestId).all();
    expect(attempts.results).toEqual([{ outcome: 'sent', provider: 'test_number' }]);

    const wrong = await call(`/v1/otp/${body.requestId}/verify`, app.secretKey, { method: 'POST', body: { code: '1357' } }, testEnv);
    expect((await wrong.json<{ error: { code: string } }>()).error.code).toBe('invalid_code');
    const right = await call(`/v1/otp/${body.requestId}/verify`, app.secretKey, { method: 'POST', body: { code: '2468' } }, testEnv);
    expect(right.status).toBe(200);
  });

  it('spend no phone or budget limit (store reviewers and monitors ask again and again); a verification of one is no conversion', async () => {
    const testNumber = '+15005550008';
    const app = await makeApp({ testNumbers: [{ phoneNumber: testNumber, code: '9999' }], dailySmsBudget: 1 });
    for (let round = 0; round < 3; round += 1) expect((await create(app.secretKey, testNumber)).response.status).toBe(202);
    // The app's one SMS of the day is still there for a real number.
    expect((await create(app.secretKey)).response.status).toBe(202);
  });

  it('are the app’s own: the same number from another app is an ordinary send', async () => {
    const testNumber = '+15005550007';
    await makeApp({ testNumbers: [{ phoneNumber: testNumber, code: '2468' }] });
    const { body } = await create(TEST_APP.secretKey, testNumber);
    const row = await requestRow(body.requestId);
    expect([row.test_number, row.status]).toEqual([0, 'queued']);
  });
});
