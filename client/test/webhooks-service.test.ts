import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { createOtpClient, verifyWebhook, type WebhookEvent } from '../src/index.ts';
import { baseUrl, sandboxCode, uniquePhone } from './support.ts';

/** The local service's admin token (`npm run dev` writes it to .dev.vars); another with $OTP_ADMIN_TOKEN. */
const ADMIN_TOKEN = process.env.OTP_ADMIN_TOKEN ?? 'local-dev-admin-token';

/** A receiver on this machine: every post it gets, as received. */
const posts: Array<{ body: string; headers: IncomingHttpHeaders }> = [];
const receiver = createServer((request, response) => {
  let body = '';
  request.setEncoding('utf8');
  request.on('data', (chunk: string) => {
    body += chunk;
  });
  request.on('end', () => {
    posts.push({ body, headers: request.headers });
    response.writeHead(204).end();
  });
});

async function postsOf(requestId: string, types: string[], timeoutMs = 60_000): Promise<typeof posts> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = posts.filter((post) => post.body.includes(requestId));
    if (types.every((type) => found.some((post) => post.body.includes(`"type":"${type}"`)))) return found;
    assert.ok(Date.now() < deadline, `the receiver got ${found.length} posts for ${requestId}, not every one of ${types.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('verifyWebhook on what the service posts', () => {
  before(() => new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve)));
  after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

  it('verifies every event of a login posted to an app’s webhook, as the standardwebhooks package does', async () => {
    // The operator's calls, through the typed client's `api` with the admin token.
    const { api } = createOtpClient({ baseUrl: baseUrl(), key: ADMIN_TOKEN });
    const created = await api.POST('/v1/admin/apps', { body: { name: 'Client webhook test' } });
    assert.ok(created.data, JSON.stringify(created.error));
    const appId = created.data.app.id;
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const webhook = await api.PUT('/v1/admin/apps/{appId}/webhook', { params: { path: { appId } }, body: { url } });
    assert.equal(webhook.response.status, 201, JSON.stringify(webhook.error));
    const secret = (webhook.data as { secret: string }).secret;

    const client = createOtpClient({ baseUrl: baseUrl(), key: created.data.secretKey });
    const { requestId } = await client.send({ phoneNumber: uniquePhone() });
    await client.verify(requestId, await sandboxCode(requestId));

    for (const { body, headers } of await postsOf(requestId, ['otp.sent', 'otp.verified'])) {
      const event: WebhookEvent = await client.verifyWebhook(body, headers, secret);
      assert.equal(event.data.requestId, requestId);
      assert.equal(event.data.appId, appId);
      assert.equal(event.id, headers['webhook-id']);
      assert.equal(`otp.${event.data.status}`, event.type);
      assert.match(event.data.phoneNumber ?? '', /^\+91\*+\d{4}$/);
      assert.deepEqual(new Webhook(secret).verify(body, headers as Record<string, string>), event);
      // Not for another secret.
      await assert.rejects(verifyWebhook(body, headers, `whsec_${Buffer.from('not the secret').toString('base64')}`));
    }
  });
});
