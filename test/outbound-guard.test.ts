import { describe, expect, it } from 'vitest';
import { PROVIDER_URL, SEND_ROUTE, STATUS_ROUTE } from './support/fixtures';
import { interceptOrigin, json, takeUnexpectedCalls } from './support/outbound';

describe('outbound interception (test support)', () => {
  it('answers a registered method and path, with the values of its :name segments', async () => {
    const calls = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => json(201, { sent: true }), [STATUS_ROUTE]: (call) => json(200, call.params) });
    expect(await (await fetch(`${PROVIDER_URL}/otp/send`, { method: 'POST', body: '{"a":1}' })).json()).toEqual({ sent: true });
    expect(await (await fetch(`${PROVIDER_URL}/messages/msg%2F1`)).json()).toEqual({ messageId: 'msg/1' });
    expect(calls.map((call) => [call.route, call.body])).toEqual([
      [SEND_ROUTE, { a: 1 }],
      [STATUS_ROUTE, undefined],
    ]);
  });

  it.each([
    ['a wrong method on a known path', 'GET', '/otp/send'],
    ['a wrong path', 'POST', '/otp/sendx'],
    ['a path one segment longer', 'POST', '/otp/send/again'],
    ['an empty :name segment', 'GET', '/messages/'],
  ])('fails %s loudly, and the test with it', async (_name, method, path) => {
    const calls = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => json(201, {}), [STATUS_ROUTE]: () => json(200, {}) });
    await expect(fetch(`${PROVIDER_URL}${path}`, { method })).rejects.toThrow(/Unexpected outbound request/);
    expect(calls).toEqual([]);
    // What the guard would have failed this test with after it (taken here, so it does not).
    expect(takeUnexpectedCalls()).toEqual([expect.stringContaining(`${method} ${PROVIDER_URL}${path}`)]);
  });

  it('fails a call to an origin no test registered', async () => {
    await expect(fetch('https://elsewhere.test/otp/send', { method: 'POST' })).rejects.toThrow(/Unexpected outbound request/);
    expect(takeUnexpectedCalls()).toEqual(['POST https://elsewhere.test/otp/send']);
  });
});
