import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { deriveCode } from '../src/codes';
import { testCaller } from './support/apps';
import { PROVIDER_URL, SEND_ROUTE, seedRequest, startMessagingEnv, TEST_OTP_SECRET } from './support/fixtures';
import { interceptOrigin, json } from './support/outbound';
import { deliverSendJobs } from './support/queue';

async function allStoredStrings(): Promise<string[]> {
  const tables = ['otp_requests', 'delivery_attempts', 'idempotency_keys', 'dead_letters'];
  const values: string[] = [];
  for (const table of tables) {
    const { results } = await env.DB.prepare(`SELECT * FROM ${table}`).all<Record<string, unknown>>();
    for (const row of results) for (const value of Object.values(row)) if (typeof value === 'string') values.push(value);
  }
  return values;
}

describe('no code or full phone number leaks', () => {
  it('after sends, retries and failures, the code is in no D1 row and no log line; the phone in no log line', async () => {
    const logs: string[] = [];
    const capture = (...args: unknown[]) => logs.push(args.map(String).join(' '));
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) => vi.spyOn(console, level).mockImplementation(capture));

    const requests = await Promise.all([seedRequest(), seedRequest(), seedRequest()]);
    let call = 0;
    interceptOrigin(PROVIDER_URL, {
      [SEND_ROUTE]: (recorded) => {
        call += 1;
        const otp = (recorded.body as { variables: { otp: string } }).variables.otp;
        // A provider that echoes what it was sent in its error text must not get it stored.
        if (call === 1) return json(400, { message: `bad request for ${(recorded.body as { phoneNumber: string }).phoneNumber} code ${otp}` });
        if (call === 2) return json(500, { error: { message: `failed sending ${otp}` } });
        return json(201, { success: true, data: { messageId: 'm' } });
      },
    });
    const testEnv = startMessagingEnv();
    await deliverSendJobs(
      testEnv,
      requests.map((request) => request.id),
    );
    await deliverSendJobs(
      testEnv,
      requests.map((request) => request.id),
      2,
    );
    spies.forEach((spy) => spy.mockRestore());

    const stored = await allStoredStrings();
    expect(logs.length).toBeGreaterThan(0);
    for (const request of requests) {
      const code = await deriveCode(TEST_OTP_SECRET, request.id, 6);
      for (const value of stored) expect(value).not.toContain(code);
      for (const line of logs) {
        expect(line).not.toContain(code);
        expect(line).not.toContain(request.phoneNumber);
        expect(line).not.toContain(request.phoneNumber.slice(1));
      }
    }
  });
});

describe('queue messages carry ids only', () => {
  it('the job enqueued for a request holds neither the phone number nor the code', async () => {
    const { createOtpRequest } = await import('../src/api/create-otp-request');
    const { loadConfig } = await import('../src/config');
    const sent: unknown[] = [];
    const recordingEnv = {
      ...env,
      SEND_QUEUE: { send: async (body: unknown) => void sent.push(body), sendBatch: async () => {} } as unknown as Queue,
    } as Env;
    const phoneNumber = '+447400900555';
    const config = loadConfig(env);
    const created = await createOtpRequest(recordingEnv, config, testCaller(config), { phoneNumber }, () => {});
    expect(sent).toEqual([{ type: 'send', v: 1, requestId: created.requestId }]);
    const serialized = JSON.stringify(sent);
    expect(serialized).not.toContain(phoneNumber.slice(1));
    expect(serialized).not.toContain(await deriveCode(TEST_OTP_SECRET, created.requestId, 6));
  });
});
