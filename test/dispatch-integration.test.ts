import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { SANDBOX_MAGIC_NUMBERS } from '../src/providers/sandbox';
import { withKey } from './support/apps';
import { uniquePhone } from './support/fixtures';

async function requestCode(phoneNumber: string) {
  const response = await SELF.fetch('https://otp.test/v1/otp', {
    method: 'POST',
    headers: withKey({ 'Content-Type': 'application/json' }),
    body: JSON.stringify({ phoneNumber }),
  });
  expect(response.status).toBe(202);
  return (await response.json<{ requestId: string }>()).requestId;
}

async function waitForStatus(requestId: string, wanted: string[], timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let body: { status: string; attempts: number; lastError?: { code: string } } | undefined;
  while (Date.now() < deadline) {
    body = await (await SELF.fetch(`https://otp.test/v1/otp/${requestId}`, { headers: withKey() })).json();
    if (wanted.includes(body!.status)) return body!;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`request ${requestId} stayed ${body?.status}, wanted ${wanted.join('/')}`);
}

describe('POST /v1/otp → queue → consumer → status (sandbox provider, real local queue)', () => {
  it('reaches sent, and the sandbox listing shows the message with its code', async () => {
    const phone = uniquePhone();
    const requestId = await requestCode(phone);
    const status = await waitForStatus(requestId, ['sent']);
    expect(status.attempts).toBe(1);

    const listing = await (await SELF.fetch(`https://otp.test/v1/sandbox/messages?phoneNumber=${encodeURIComponent(phone)}`)).json<{
      messages: Array<{ requestId: string; code: string; phoneNumber: string }>;
    }>();
    expect(listing.messages).toEqual([expect.objectContaining({ requestId, phoneNumber: phone, code: expect.stringMatching(/^\d{6}$/) })]);
  });

  it('a number the provider rejects ends failed with the reason', async () => {
    const requestId = await requestCode(SANDBOX_MAGIC_NUMBERS.rejected);
    const status = await waitForStatus(requestId, ['failed']);
    expect(status.lastError?.code).toBe('provider_rejected_request');
  });

  it('a flaky number is retried until it is sent', async () => {
    const requestId = await requestCode(SANDBOX_MAGIC_NUMBERS.flaky);
    const status = await waitForStatus(requestId, ['sent'], 20_000);
    expect(status.attempts).toBe(3);
  }, 30_000);
});
