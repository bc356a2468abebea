import assert from 'node:assert/strict';

/** The service under test (test/global-setup.ts). */
export function baseUrl(): string {
  const base = process.env.OTP_BASE_URL;
  assert.ok(base, 'OTP_BASE_URL is not set: run the tests with `npm test` (its global setup starts the service)');
  return base;
}

/** The development app a local service creates for itself (docs/apps.md#the-development-app): public, development-only keys. */
export const DEV_APP = {
  id: 'app_localdev',
  secretKey: 'sk_dev_local_development_secret_key',
  publishableKey: 'pk_dev_local_development_publishable_key',
  /** One of its allowed origins. */
  origin: 'http://localhost:8788',
} as const;

const issued = new Set<string>();

/**
 * A number no other test uses, each in a destination range of its own (a run of numbers in one
 * thousand-number block looks like SMS pumping to the service, and is blocked).
 */
export function uniquePhone(): string {
  for (;;) {
    const digits = Array.from(crypto.getRandomValues(new Uint8Array(9)), (byte) => byte % 10).join('');
    const phone = `+91${6 + (crypto.getRandomValues(new Uint8Array(1))[0]! % 4)}${digits}`;
    if (!issued.has(phone)) {
      issued.add(phone);
      return phone;
    }
  }
}

/**
 * The code the sandbox provider "sent" for a request (`GET /v1/sandbox/messages?requestId=`),
 * once the service's queue has sent it: read again until it is there, for up to `timeoutMs`.
 */
export async function sandboxCode(requestId: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const answer = await fetch(`${baseUrl()}/v1/sandbox/messages?requestId=${encodeURIComponent(requestId)}`);
    assert.equal(answer.status, 200, 'the service is not in sandbox mode');
    const { messages } = (await answer.json()) as { messages: Array<{ code: string }> };
    if (messages[0]) return messages[0].code;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the sandbox sent nothing for ${requestId} within ${timeoutMs} ms`);
}

/** A fetch that sends `Origin`, as a browser on that page would. */
export function fetchFrom(origin: string): typeof fetch {
  return (input, init) => {
    const request = new Request(input, init);
    request.headers.set('Origin', origin);
    return fetch(request);
  };
}
