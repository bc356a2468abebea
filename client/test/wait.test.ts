import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, type Clock, createOtpClient, OtpApiError, OtpWaitTimeoutError, systemClock } from '../src/index.ts';
import { baseUrl, DEV_APP, uniquePhone } from './support.ts';

const TIMING = { initialDelayMs: 500, maxDelayMs: 5000 };

/** A clock whose sleeps pass at once, moving its time on by as much; `pauses` records them. */
function virtualClock(): Clock & { pauses: number[] } {
  let now = 1_800_000_000_000;
  const pauses: number[] = [];
  return {
    pauses,
    now: () => now,
    sleep: async (ms) => {
      pauses.push(ms);
      now += ms;
    },
  };
}

/** The real clock, recording each pause it is asked for. */
function recordingClock(): Clock & { pauses: number[] } {
  const pauses: number[] = [];
  return {
    pauses,
    now: systemClock.now,
    sleep: (ms, signal) => {
      pauses.push(ms);
      return systemClock.sleep(ms, signal);
    },
  };
}

/** A stand-in for the service answering GET /v1/otp/{id} from a script, one answer per call. */
function scriptedService(answers: Array<{ status: number; body: unknown; headers?: Record<string, string> }>): typeof fetch {
  return async () => {
    const next = answers.shift();
    assert.ok(next, 'called more often than scripted');
    return new Response(JSON.stringify(next.body), { status: next.status, headers: { 'Content-Type': 'application/json', ...next.headers } });
  };
}

const statusBody = (status: string) => ({
  requestId: 'otp_AAAAAAAAAAAAAAAAAAAAAA',
  status,
  phoneNumber: '+91******3210',
  attempts: 1,
  createdAt: '2026-12-01T00:00:00.000Z',
  updatedAt: '2026-12-01T00:00:00.000Z',
  expiresAt: '2026-12-01T00:05:00.000Z',
});
const unavailable = (retryAfter: string) => ({
  status: 503,
  body: { error: { code: 'service_unavailable', message: 'Storage is briefly unavailable; try again shortly', requestId: 'req_x' } },
  headers: { 'Retry-After': retryAfter },
});

describe('waitForStatus', () => {
  it('polls the service until the code is sent, pausing longer each time, with jitter', async () => {
    const clock = recordingClock();
    const client = createOtpClient({ baseUrl: baseUrl(), key: DEV_APP.secretKey, clock, random: () => 0.5 });
    const { requestId } = await client.send({ phoneNumber: uniquePhone() });
    const reached = await client.waitForStatus(requestId, { until: ['sent', 'delivered'], timeoutMs: 30_000 });
    assert.ok(['sent', 'delivered'].includes(reached.status), reached.status);
    assert.deepEqual(
      clock.pauses,
      clock.pauses.map((_, attempt) => backoffDelay(attempt, TIMING, () => 0.5)),
    );
  });

  it('gives up at its deadline with the last status it read, the last pause cut short to fall on it', async () => {
    const clock = virtualClock();
    const client = createOtpClient({ baseUrl: baseUrl(), key: DEV_APP.secretKey, clock, random: () => 1 });
    const { requestId } = await client.send({ phoneNumber: uniquePhone() });
    // Nobody verifies this code, and in virtual time it never expires.
    await assert.rejects(client.waitForStatus(requestId, { until: ['verified'], timeoutMs: 12_000 }), (error: unknown) => {
      assert.ok(error instanceof OtpWaitTimeoutError);
      assert.equal(error.requestId, requestId);
      assert.ok(['queued', 'sending', 'sent', 'delivered'].includes(error.lastStatus ?? ''), error.lastStatus);
      return true;
    });
    // 500, 1000, 2000, 4000 ms, then what is left of the 12 s (4500 ms), then one last read.
    assert.deepEqual(clock.pauses, [500, 1000, 2000, 4000, 4500]);
  });

  it('honours Retry-After when the service is briefly unavailable, and stops at a final status', async () => {
    const clock = virtualClock();
    const fetch = scriptedService([
      unavailable('7'),
      { status: 200, body: statusBody('sending') },
      unavailable('2'),
      { status: 200, body: statusBody('failed') },
    ]);
    const client = createOtpClient({ baseUrl: 'https://otp.test', key: 'sk_test', fetch, clock, random: () => 0 });
    const final = await client.waitForStatus('otp_AAAAAAAAAAAAAAAAAAAAAA', { until: ['delivered'] });
    assert.equal(final.status, 'failed');
    assert.deepEqual(clock.pauses, [7000, backoffDelay(1, TIMING, () => 0), 2000]);
  });

  it('gives up at once when Retry-After is past the deadline, and throws other refusals as they are', async () => {
    const clock = virtualClock();
    const late = createOtpClient({ baseUrl: 'https://otp.test', key: 'sk_test', fetch: scriptedService([unavailable('120')]), clock });
    await assert.rejects(late.waitForStatus('otp_AAAAAAAAAAAAAAAAAAAAAA', { timeoutMs: 60_000 }), OtpWaitTimeoutError);
    assert.deepEqual(clock.pauses, []);

    const client = createOtpClient({ baseUrl: baseUrl(), key: DEV_APP.secretKey, clock });
    await assert.rejects(client.waitForStatus('otp_AAAAAAAAAAAAAAAAAAAAAA'), (error: unknown) => error instanceof OtpApiError && error.code === 'not_found');
    assert.deepEqual(clock.pauses, []);
  });
});
