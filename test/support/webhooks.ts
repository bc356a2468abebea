import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { Webhook } from 'standardwebhooks';
import { expect } from 'vitest';
import { deriveCode } from '../../src/codes';
import { handleWebhookBatch } from '../../src/consumer/webhook-batch';
import { adminFetch } from './admin';
import { withKey } from './apps';
import { PROVIDER_URL, SEND_ROUTE, startMessagingEnv, TEST_OTP_SECRET, uniquePhone } from './fixtures';
import { interceptOrigin, json, type RecordedCall, type Responder } from './outbound';
import { deliver, recordRetryDelays } from './queue';
import { recordingQueue } from './recording-queue';
import { fetchWithEnv } from './worker';

/** A receiver's origin and path, as the tests intercept them. */
export const RECEIVER = 'https://receiver.test';
export const RECEIVER_ROUTE = 'POST /hooks/otp';
export const RECEIVER_URL = `${RECEIVER}/hooks/otp`;

/**
 * The StartMessaging env (its provider intercepted) with both queues recorded: the test decides
 * when a send job, a status check or a webhook job runs.
 */
export function webhookTestEnv(overrides: Record<string, string> = {}) {
  const sends = recordingQueue();
  const hooks = recordingQueue();
  const testEnv = { ...startMessagingEnv({ DELIVERY_CHECK_BASE_SECONDS: '30', ...overrides }), SEND_QUEUE: sends.binding, WEBHOOK_QUEUE: hooks.binding } as Env;
  return { testEnv, sends, hooks };
}

export interface WebhookAnswer {
  webhook: { url: string; events: string[]; includePhoneNumber: boolean; secretVersion: number; disabledAt: string | null; previousSecretUntil: string | null };
  secret?: string;
  error?: { code: string; message: string; reason?: string };
}

/** PUT /v1/admin/apps/:appId/webhook. */
export async function putWebhook(appId: string, body: Record<string, unknown>, testEnv: Env = env, operator = 'alice') {
  const response = await adminFetch(
    `/v1/admin/apps/${appId}/webhook`,
    { method: 'PUT', headers: { 'X-Operator': operator }, body: JSON.stringify(body) },
    testEnv,
  );
  return { status: response.status, body: await response.json<WebhookAnswer>() };
}

/** Sets a webhook that takes every event and answers its secret. */
export async function setReceiver(appId: string, extra: Record<string, unknown> = {}): Promise<string> {
  const set = await putWebhook(appId, { url: RECEIVER_URL, ...extra });
  expect(set.status, JSON.stringify(set.body)).toBe(201);
  return set.body.secret!;
}

/** Takes the webhook jobs queued so far (those of one request, when given), as event ids; others stay queued. */
export function takeWebhookJobs(hooks: ReturnType<typeof recordingQueue>, requestId?: string): string[] {
  const all = hooks.take();
  const mine = (message: (typeof all)[number]) => !requestId || (message.body as { eventId: string }).eventId.startsWith(`evt_${requestId.slice(4)}_`);
  hooks.messages.push(...all.filter((message) => !mine(message)));
  return all.filter(mine).map((message) => (message.body as { eventId: string }).eventId);
}

const jobBodies = (eventIds: string[]) => eventIds.map((eventId) => ({ type: 'webhook_event', v: 1, eventId }));

/** Runs webhook jobs through the Worker's queue handler. */
export function deliverWebhookJobs(testEnv: Env, eventIds: string[], attempts = 1) {
  return deliver(testEnv, 'otp-webhooks', jobBodies(eventIds), attempts);
}

let jobCounter = 0;

/**
 * Runs webhook jobs through the webhook consumer as if the clock read `now` (a retry that is due
 * later, a day's window running out), with `random` as its jitter. Answers acks and retries.
 */
export async function deliverWebhookJobsAt(testEnv: Env, eventIds: string[], now: number, random = () => 0.5) {
  const messages = jobBodies(eventIds).map((body) => ({ id: `hook-${++jobCounter}`, timestamp: new Date(now), attempts: 1, body }));
  const batch = createMessageBatch('otp-webhooks', messages);
  const delays = recordRetryDelays(batch);
  const ctx = createExecutionContext();
  await handleWebhookBatch(batch, testEnv, { now: () => now, random });
  const result = await getQueueResult(batch, ctx);
  return { acked: result.explicitAcks.length, retried: result.retryMessages.map((retried) => ({ ...retried, delaySeconds: delays.get(retried.msgId) })) };
}

/** Intercepts the receiver: `respond` answers each post (200 by default). */
export function receiver(respond: Responder = () => new Response(null, { status: 204 })): RecordedCall[] {
  return interceptOrigin(RECEIVER, { [RECEIVER_ROUTE]: respond });
}

/** The provider accepts every SMS as `messageId`; status checks answer `status`. */
export function providerAccepting(messageId = 'msg_1', status = 'delivered') {
  return interceptOrigin(PROVIDER_URL, {
    [SEND_ROUTE]: () => json(201, { success: true, data: { messageId, status: 'queued' } }),
    'GET /messages/:messageId': () => json(200, { success: true, data: { messageId, status } }),
  });
}

/** Checks a post's signature with the `standardwebhooks` package, as a receiver would, and answers its body. */
export function verified(call: RecordedCall, secret: string): Record<string, unknown> {
  return new Webhook(secret).verify(call.rawBody, call.headers) as Record<string, unknown>;
}

/** POST /v1/otp as `secretKey`; answers the request id. */
export async function sendCode(testEnv: Env, secretKey: string, phoneNumber = uniquePhone()): Promise<{ requestId: string; phoneNumber: string }> {
  const response = await fetchWithEnv(
    new Request('https://otp.test/v1/otp', {
      method: 'POST',
      headers: withKey({ 'Content-Type': 'application/json' }, secretKey),
      body: JSON.stringify({ phoneNumber }),
    }),
    testEnv,
  );
  const body = await response.json<{ requestId: string }>();
  expect(response.status, JSON.stringify(body)).toBe(202);
  return { requestId: body.requestId, phoneNumber };
}

/** POST /v1/otp/:id/verify with the right code. */
export async function verifyCode(testEnv: Env, secretKey: string, requestId: string): Promise<Response> {
  const code = await deriveCode(TEST_OTP_SECRET, requestId, 6);
  return fetchWithEnv(
    new Request(`https://otp.test/v1/otp/${requestId}/verify`, {
      method: 'POST',
      headers: withKey({ 'Content-Type': 'application/json' }, secretKey),
      body: JSON.stringify({ code }),
    }),
    testEnv,
  );
}

export async function eventRows(requestId: string) {
  const { results } = await env.DB.prepare('SELECT * FROM webhook_events WHERE request_id = ?1 ORDER BY occurred_at, id')
    .bind(requestId)
    .all<Record<string, unknown> & { id: string; type: string; state: string }>();
  return results;
}

export async function attemptRowsOf(eventId: string) {
  const { results } = await env.DB.prepare('SELECT * FROM webhook_attempts WHERE event_id = ?1 ORDER BY attempt_number')
    .bind(eventId)
    .all<Record<string, unknown>>();
  return results;
}
