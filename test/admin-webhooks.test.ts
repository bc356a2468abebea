import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { adminFetch, adminJson } from './support/admin';
import { changeRows } from './support/admin-apps';
import { makeApp } from './support/apps';
import { deliver } from './support/queue';
import {
  deliverWebhookJobs,
  eventRows,
  providerAccepting,
  putWebhook,
  RECEIVER_URL,
  receiver,
  sendCode,
  setReceiver,
  takeWebhookJobs,
  verified,
  type WebhookAnswer,
  webhookTestEnv,
} from './support/webhooks';
import { envWith } from './support/worker';

const webhookPath = (appId: string) => `/v1/admin/apps/${appId}/webhook`;

async function rotate(appId: string, body?: Record<string, unknown>) {
  const response = await adminFetch(`${webhookPath(appId)}/rotate-secret`, {
    method: 'POST',
    headers: { 'X-Operator': 'bob' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: await response.json<WebhookAnswer>() };
}

/** One event of the app whose key is `secretKey`, posted to a receiver answering `status`. */
async function postedEvent(secretKey: string, status = 200) {
  const setup = webhookTestEnv();
  providerAccepting();
  const calls = receiver(() => new Response(null, { status }));
  const { requestId } = await sendCode(setup.testEnv, secretKey);
  await deliver(
    setup.testEnv,
    'otp-send',
    setup.sends.take().map((job) => job.body),
  );
  const [eventId] = takeWebhookJobs(setup.hooks, requestId);
  await deliverWebhookJobs(setup.testEnv, [eventId!]);
  return { ...setup, calls, eventId: eventId!, requestId };
}

describe('setting a webhook', () => {
  it('the first PUT makes it and answers its secret once (201); D1 and the change log hold no secret and no URL path', async () => {
    const app = await makeApp();
    const url = 'https://receiver.test/hooks/otp?token=abc123';
    const set = await putWebhook(app.id, { url, events: ['otp.verified', 'otp.failed'] });
    expect(set.status).toBe(201);
    const secret = set.body.secret!;
    // Standard Webhooks: whsec_ and the base64 of 32 random-looking bytes.
    expect(atob(secret.slice('whsec_'.length))).toHaveLength(32);
    expect(set.body.webhook).toMatchObject({ url, events: ['otp.failed', 'otp.verified'], includePhoneNumber: false, secretVersion: 1, disabledAt: null });

    const read = await adminJson<WebhookAnswer>(webhookPath(app.id));
    expect(read.status).toBe(200);
    expect(read.body.webhook.url).toBe(url);
    expect(JSON.stringify(read.body)).not.toContain(secret.slice(6));

    const changes = await changeRows(app.id);
    expect(changes.map((change) => [change.action, change.actor])).toEqual([['webhook.set', 'alice']]);
    expect(JSON.parse(changes[0]!.detail_json)).toEqual({
      origin: 'https://receiver.test',
      events: ['otp.failed', 'otp.verified'],
      includePhoneNumber: false,
      secretVersion: 1,
    });
    const stored = JSON.stringify(await env.DB.prepare('SELECT * FROM webhooks WHERE app_id = ?1').bind(app.id).first());
    for (const text of [stored, changes[0]!.detail_json]) expect(text).not.toContain(secret.slice(6, 30));
    expect(changes[0]!.detail_json).not.toContain('token=abc123');
  });

  it('a second PUT changes it (200), keeps the secret and records what changed; one that changes nothing records nothing', async () => {
    const app = await makeApp();
    const secret = await setReceiver(app.id);
    const changed = await putWebhook(app.id, { url: 'https://receiver.test/v2', includePhoneNumber: true }, env, 'carol');
    expect(changed.status).toBe(200);
    expect(changed.body.secret).toBeUndefined();
    expect(changed.body.webhook).toMatchObject({ url: 'https://receiver.test/v2', includePhoneNumber: true, secretVersion: 1 });
    expect((await putWebhook(app.id, { url: 'https://receiver.test/v2', includePhoneNumber: true })).status).toBe(200);
    const changes = await changeRows(app.id);
    expect(changes.map((change) => change.action)).toEqual(['webhook.set', 'webhook.updated']);
    expect(JSON.parse(changes[1]!.detail_json).changed).toEqual(['url', 'includePhoneNumber']);
    // Posts are still signed with the first secret.
    await putWebhook(app.id, { url: RECEIVER_URL });
    const { calls } = await postedEvent(app.secretKey);
    expect(verified(calls[0]!, secret)).toMatchObject({ type: 'otp.sent' });
  });

  it('removing it stops events; setting it again makes a new secret', async () => {
    const app = await makeApp();
    const first = await setReceiver(app.id);
    const removed = await adminFetch(webhookPath(app.id), { method: 'DELETE', headers: { 'X-Operator': 'dave' } });
    expect(removed.status).toBe(200);
    expect((await adminFetch(webhookPath(app.id))).status).toBe(404);
    expect((await adminFetch(webhookPath(app.id), { method: 'DELETE' })).status).toBe(404);

    const setup = webhookTestEnv();
    providerAccepting();
    const { requestId } = await sendCode(setup.testEnv, app.secretKey);
    await deliver(
      setup.testEnv,
      'otp-send',
      setup.sends.take().map((job) => job.body),
    );
    expect(await eventRows(requestId)).toEqual([]);

    const again = await putWebhook(app.id, { url: RECEIVER_URL });
    expect(again.status).toBe(201);
    expect(again.body.webhook.secretVersion).toBe(2);
    expect(again.body.secret).not.toBe(first);
    expect((await changeRows(app.id)).map((change) => change.action)).toEqual(['webhook.set', 'webhook.removed', 'webhook.set']);
  });

  it('refuses: an unknown app (404), an unknown event type or field (400), and without WEBHOOK_SECRET_KEY (500 naming it)', async () => {
    expect((await putWebhook('app_doesnotexist', { url: RECEIVER_URL })).status).toBe(404);
    const app = await makeApp();
    for (const body of [
      { url: RECEIVER_URL, events: ['otp.sent', 'otp.sent'] },
      { url: RECEIVER_URL, events: ['otp.read'] },
      { url: RECEIVER_URL, secret: 'x' },
      {},
    ]) {
      const refused = await putWebhook(app.id, body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.error?.code).toBe('invalid_request');
    }
    const withoutKey = envWith({});
    delete (withoutKey as unknown as Record<string, unknown>).WEBHOOK_SECRET_KEY;
    const refused = await putWebhook(app.id, { url: RECEIVER_URL }, withoutKey);
    expect(refused.status).toBe(500);
    expect(refused.body.error).toMatchObject({ code: 'configuration_error', missingSecret: 'WEBHOOK_SECRET_KEY' });
    expect(await changeRows(app.id)).toEqual([]);
  });
});

describe('rotating the secret', () => {
  it('answers the new secret once; posts carry both signatures until the overlap ends; 0 ends the old one now', async () => {
    const app = await makeApp();
    const first = await setReceiver(app.id);
    const rotated = await rotate(app.id);
    expect(rotated.status).toBe(200);
    const second = rotated.body.secret!;
    expect(second).not.toBe(first);
    expect(rotated.body.webhook.secretVersion).toBe(2);
    expect(Date.parse(rotated.body.webhook.previousSecretUntil!)).toBeGreaterThan(Date.now() + 86_000_000);
    const overlapping = await postedEvent(app.secretKey);
    expect(overlapping.calls[0]!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verified(overlapping.calls[0]!, first)).toMatchObject({ type: 'otp.sent' });
    expect(verified(overlapping.calls[0]!, second)).toMatchObject({ type: 'otp.sent' });

    const third = (await rotate(app.id, { overlapSeconds: 0 })).body.secret!;
    const after = await postedEvent(app.secretKey);
    expect(after.calls[0]!.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    expect(verified(after.calls[0]!, third)).toMatchObject({ type: 'otp.sent' });
    expect(() => verified(after.calls[0]!, second)).toThrow(/signature/i);
    expect((await changeRows(app.id)).filter((change) => change.action === 'webhook.secret_rotated').map((change) => change.actor)).toEqual(['bob', 'bob']);
  });

  it('an app without a webhook: 404', async () => {
    const app = await makeApp();
    expect((await rotate(app.id)).status).toBe(404);
  });
});

describe('deliveries and redelivery', () => {
  it('lists events newest first, filtered by state and paged; one event shows its attempts', async () => {
    const app = await makeApp();
    await setReceiver(app.id);
    const failed = await postedEvent(app.secretKey, 503);
    const delivered = await postedEvent(app.secretKey, 200);
    const all = await adminJson<{ deliveries: Array<{ eventId: string; state: string }>; nextCursor: string | null }>(
      `${webhookPath(app.id)}/deliveries?limit=1`,
    );
    expect(all.body.deliveries.map((row) => row.eventId)).toEqual([delivered.eventId]);
    const next = await adminJson<{ deliveries: Array<{ eventId: string }> }>(`${webhookPath(app.id)}/deliveries?limit=1&cursor=${all.body.nextCursor}`);
    expect(next.body.deliveries.map((row) => row.eventId)).toEqual([failed.eventId]);
    const pending = await adminJson<{ deliveries: Array<{ eventId: string; state: string; attempts: number; lastErrorCode: string }> }>(
      `${webhookPath(app.id)}/deliveries?status=pending`,
    );
    expect(pending.body.deliveries).toEqual([expect.objectContaining({ eventId: failed.eventId, state: 'pending', attempts: 1, lastErrorCode: 'http_error' })]);

    const detail = await adminJson<{ delivery: { eventId: string }; attempts: Array<Record<string, unknown>> }>(
      `${webhookPath(app.id)}/deliveries/${failed.eventId}`,
    );
    expect(detail.status).toBe(200);
    expect(detail.body.attempts).toEqual([
      expect.objectContaining({ attemptNumber: 1, outcome: 'retry', httpStatus: 503, errorCode: 'http_error', retryDelaySeconds: expect.any(Number) }),
    ]);
    const other = await makeApp();
    expect((await adminFetch(`${webhookPath(other.id)}/deliveries/${failed.eventId}`)).status).toBe(404);
  });

  it('redelivers one event (even a delivered one) and every failed one, through the queue, recorded in the change log', async () => {
    const app = await makeApp();
    await setReceiver(app.id);
    const delivered = await postedEvent(app.secretKey, 200);
    const queue = webhookTestEnv();
    const one = await adminFetch(
      `${webhookPath(app.id)}/redeliver`,
      { method: 'POST', headers: { 'X-Operator': 'erin' }, body: JSON.stringify({ eventId: delivered.eventId }) },
      queue.testEnv,
    );
    expect(one.status).toBe(202);
    expect(await one.json()).toEqual({ redelivered: 1, more: false });
    expect(takeWebhookJobs(queue.hooks)).toEqual([delivered.eventId]);
    const calls = receiver();
    await deliverWebhookJobs(queue.testEnv, [delivered.eventId]);
    expect(calls.map((call) => call.headers['webhook-id'])).toEqual([delivered.eventId]);

    // Two events that failed for good (a day of retries, squeezed here into a D1 update).
    const a = await postedEvent(app.secretKey, 500);
    const b = await postedEvent(app.secretKey, 500);
    await env.DB.prepare("UPDATE webhook_events SET state = 'failed' WHERE id IN (?1, ?2)").bind(a.eventId, b.eventId).run();
    const all = await adminFetch(`${webhookPath(app.id)}/redeliver`, { method: 'POST', body: JSON.stringify({ allFailed: true }) }, queue.testEnv);
    expect(await all.json()).toEqual({ redelivered: 2, more: false });
    expect(takeWebhookJobs(queue.hooks).sort()).toEqual([a.eventId, b.eventId].sort());
    const rows = await env.DB.prepare('SELECT state, round_attempts FROM webhook_events WHERE id IN (?1, ?2)').bind(a.eventId, b.eventId).all();
    expect(rows.results).toEqual([
      { state: 'pending', round_attempts: 0 },
      { state: 'pending', round_attempts: 0 },
    ]);
    const changes = (await changeRows(app.id)).filter((change) => change.action === 'webhook.redelivered');
    expect(changes.map((change) => [change.actor, JSON.parse(change.detail_json)])).toEqual([
      ['erin', { eventId: delivered.eventId, events: 1 }],
      ['admin', { which: 'failed', events: 2 }],
    ]);
  });

  it('refuses: an event of another app (404), one being posted now (409), an app without a webhook (404)', async () => {
    const app = await makeApp();
    await setReceiver(app.id);
    const { eventId } = await postedEvent(app.secretKey, 500);
    const other = await makeApp();
    await setReceiver(other.id);
    const post = (appId: string, body: unknown) => adminFetch(`${webhookPath(appId)}/redeliver`, { method: 'POST', body: JSON.stringify(body) });
    expect((await post(other.id, { eventId })).status).toBe(404);
    await env.DB.prepare('UPDATE webhook_events SET lease_until = ?2 WHERE id = ?1')
      .bind(eventId, Date.now() + 60_000)
      .run();
    const busy = await post(app.id, { eventId });
    expect(busy.status).toBe(409);
    expect((await busy.json<{ error: { code: string } }>()).error.code).toBe('delivery_in_progress');
    const bare = await makeApp();
    expect((await post(bare.id, { allFailed: true })).status).toBe(404);
    expect((await post(app.id, { allFailed: false })).status).toBe(400);
  });
});
