import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { OtpWebhookError, verifyWebhook } from '../src/index.ts';

// A secret in the Standard Webhooks form, and the reference implementation's signer.
const SECRET = `whsec_${Buffer.from('a test webhook signing secret, 32b').toString('base64')}`;
const signer = new Webhook(SECRET);
const NOW = 1_800_000_000_000;
const body = JSON.stringify({ type: 'otp.verified', data: { requestId: 'otp_AAAAAAAAAAAAAAAAAAAAAA', status: 'verified' } });

function signed(payload = body, at = new Date(NOW), id = 'msg_2Kj3') {
  return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signer.sign(id, at, payload) };
}

async function refusal(check: Promise<unknown>): Promise<string> {
  try {
    await check;
  } catch (error) {
    assert.ok(error instanceof OtpWebhookError, `threw ${error}`);
    return error.reason;
  }
  assert.fail('the webhook was accepted');
}

const at = { now: () => NOW };

describe('verifyWebhook (Standard Webhooks)', () => {
  it('accepts what the standardwebhooks package signs, from a Headers or a plain object, as text or bytes', async () => {
    const headers = signed();
    assert.deepEqual(await verifyWebhook(body, headers, SECRET, at), JSON.parse(body));
    assert.deepEqual(await verifyWebhook(new TextEncoder().encode(body), new Headers(headers), SECRET, at), JSON.parse(body));
    // On a delivery signed just now (the reference verifier reads the real clock), both agree.
    const current = signed(body, new Date());
    assert.deepEqual(signer.verify(body, current), JSON.parse(body));
    assert.deepEqual(await verifyWebhook(body, current, SECRET), JSON.parse(body));
  });

  it('accepts a delivery signed by any of several secrets during a rotation (space-separated signatures)', async () => {
    const other = new Webhook(`whsec_${Buffer.from('the previous secret, also 32 byte').toString('base64')}`);
    const headers = signed();
    const both = { ...headers, 'webhook-signature': `${other.sign(headers['webhook-id'], new Date(NOW), body)} ${headers['webhook-signature']}` };
    assert.deepEqual(await verifyWebhook(body, both, SECRET, at), JSON.parse(body));
  });

  it('refuses an altered body, another secret, an old or future timestamp, and missing headers', async () => {
    const headers = signed();
    assert.equal(await refusal(verifyWebhook(body.replace('verified', 'failed'), headers, SECRET, at)), 'invalid_signature');
    assert.equal(await refusal(verifyWebhook(body, headers, `whsec_${Buffer.from('another secret').toString('base64')}`, at)), 'invalid_signature');
    assert.equal(await refusal(verifyWebhook(body, { ...headers, 'webhook-id': 'msg_other' }, SECRET, at)), 'invalid_signature');
    assert.equal(await refusal(verifyWebhook(body, headers, SECRET, { now: () => NOW + 301_000 })), 'timestamp_out_of_tolerance');
    assert.equal(await refusal(verifyWebhook(body, headers, SECRET, { now: () => NOW - 301_000 })), 'timestamp_out_of_tolerance');
    assert.equal(await refusal(verifyWebhook(body, { ...headers, 'webhook-signature': undefined }, SECRET, at)), 'missing_headers');
    assert.equal(await refusal(verifyWebhook(body, { ...headers, 'webhook-timestamp': 'yesterday' }, SECRET, at)), 'invalid_timestamp');
    assert.equal(await refusal(verifyWebhook(body, headers, 'whsec_', at)), 'invalid_secret');
  });
});
