import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import { deriveCode } from '../src/codes';
import { loadConfig } from '../src/config';
import { stallGraceMs } from '../src/cron/sweeper';
import { claimRequests, sendLeaseMs } from '../src/db/delivery-attempts';
import { providerIdempotencyKey } from '../src/ids';
import worker from '../src/index';
import { pacingHorizonMs } from '../src/pacing/provider-slots';
import { StartMessagingProvider } from '../src/providers/startmessaging';
import { type SendJob, type StatusCheck, type StatusChecks, statusCheck, statusChecks } from '../src/queue/messages';
import { withKey } from './support/apps';
import { elapse, retireOtherRequests } from './support/elapse';
import {
  PROVIDER_URL,
  requestRow,
  SEND_ROUTE,
  STATUS_ROUTE,
  seedRequest,
  startMessagingEnv,
  TEST_API_KEY,
  TEST_OTP_SECRET,
  uniquePhone,
} from './support/fixtures';
import { interceptOrigin, json } from './support/outbound';
import { withScriptedPacer } from './support/pacer';
import { deliver, deliverSendJobs } from './support/queue';
import { recordingQueue, withQueue } from './support/recording-queue';
import { fetchWithEnv } from './support/worker';

/**
 * A crash of the runtime (`kill -9`, a deploy, a host failure) loses what was in flight: queue
 * messages not yet delivered (the local queue of `wrangler dev` loses them all), a provider call
 * whose answer never came back, the delayed status checks of sent SMS. What it leaves is D1. These
 * tests build that state with the real code paths, let time pass, run the cron once, and check
 * that every request is delivered exactly once and every sent SMS gets its delivery checks back.
 */

/** StartMessaging's idempotency: one SMS per key, a repeated key answered with the original id; every SMS is delivered. */
function idempotentProvider() {
  const smsPerKey = new Map<string, number>();
  const scripted = new Map<string, () => Response>();
  const calls = interceptOrigin(PROVIDER_URL, {
    [SEND_ROUTE]: (call) => {
      const body = call.body as { phoneNumber: string; idempotencyKey: string };
      const script = scripted.get(body.phoneNumber);
      if (script) return script();
      smsPerKey.set(body.idempotencyKey, smsPerKey.get(body.idempotencyKey) ?? 1);
      return json(201, { success: true, data: { messageId: `msg-${body.idempotencyKey}`, status: 'queued' } });
    },
    [STATUS_ROUTE]: () => json(200, { success: true, data: { status: 'delivered' } }),
  });
  return {
    calls,
    /** New SMS sent for the request (its key's first accepted call). */
    sms: (requestId: string) => smsPerKey.get(providerIdempotencyKey(requestId)) ?? 0,
    callsFor: (requestId: string) =>
      calls.filter((call) => (call.body as { idempotencyKey?: string } | undefined)?.idempotencyKey === providerIdempotencyKey(requestId)),
    script: (phoneNumber: string, respond: () => Response) => scripted.set(phoneNumber, respond),
  };
}

async function postOtp(testEnv: Env, phoneNumber = uniquePhone()): Promise<string> {
  const response = await fetchWithEnv(
    new Request('https://otp.test/v1/otp', { method: 'POST', headers: withKey({ 'content-type': 'application/json' }), body: JSON.stringify({ phoneNumber }) }),
    testEnv,
  );
  expect(response.status).toBe(202);
  return (await response.json<{ requestId: string }>()).requestId;
}

/** Plays the queue after the restart: delivers what is queued, and what that enqueues, until nothing is left. */
async function drain(testEnv: Env, queue: ReturnType<typeof recordingQueue>) {
  for (let round = 0; round < 10; round++) {
    const messages = queue.take().map((message) => message.body as SendJob | StatusCheck | StatusChecks);
    if (messages.length === 0) return;
    const sends = messages.filter((body): body is SendJob => body.type === 'send');
    const checks = messages.filter((body) => body.type !== 'send');
    if (sends.length) {
      const { result } = await deliverSendJobs(
        testEnv,
        sends.map((body) => body.requestId),
      );
      expect(result.retryMessages).toEqual([]);
    }
    if (checks.length) await deliver(testEnv, 'otp-send', checks);
  }
  throw new Error('the queue never drained');
}

beforeEach(retireOtherRequests);

describe('recovery after a crash: one cron run', () => {
  it('every request with time left is delivered exactly once, and every sent SMS gets its delivery checks back', { timeout: 30_000 }, async () => {
    const provider = idempotentProvider();
    const testEnv = startMessagingEnv();
    const config = loadConfig(testEnv);
    const lost = recordingQueue();

    // Five sends accepted, their jobs still in the queue when the runtime died.
    const queued = await Promise.all(Array.from({ length: 5 }, () => postOtp(withQueue(lost.binding, testEnv))));
    expect(lost.ofType('send')).toHaveLength(5);
    // One request claimed, its provider call made (the SMS went out), the answer lost with the runtime.
    const { id: midCall, phoneNumber } = await seedRequest();
    expect((await claimRequests(env.DB, [midCall], Date.now(), sendLeaseMs(config.provider.timeoutMs, pacingHorizonMs(20)))).has(midCall)).toBe(true);
    const sent = await new StartMessagingProvider({ baseUrl: PROVIDER_URL, apiKey: TEST_API_KEY, timeoutMs: 500 }).send({
      requestId: midCall,
      phoneNumber,
      code: await deriveCode(TEST_OTP_SECRET, midCall, 6),
      idempotencyKey: providerIdempotencyKey(midCall),
      attemptNumber: 1,
    });
    expect(sent.kind).toBe('sent');
    // One request sent and recorded; its first status check was still waiting in the queue.
    const { id: sentUnchecked } = await seedRequest();
    await deliverSendJobs(withQueue(lost.binding, testEnv), [sentUnchecked]);
    expect(lost.ofType('status_checks').map((message) => message.body)).toEqual([statusChecks([{ requestId: sentUnchecked, check: 1 }])]);
    // Not lost: a request whose retry the provider asked to come 4 minutes later.
    const { id: retryLater, phoneNumber: retryPhone } = await seedRequest();
    provider.script(retryPhone, () => json(429, {}, { 'Retry-After': '240' }));
    await deliverSendJobs(withQueue(lost.binding, testEnv), [retryLater]);
    expect(await requestRow(retryLater)).toMatchObject({ status: 'queued', attempts: 1 });
    lost.take(); // the crash

    // The runtime restarts; time passes until the cron's next run: the claim's lease has lapsed and
    // the first status check is overdue, each by more than the grace.
    const grace = stallGraceMs(config);
    const crashed = [...queued, midCall, sentUnchecked, retryLater];
    await elapse(Math.max(sendLeaseMs(config.provider.timeoutMs, pacingHorizonMs(20)), 30_000) + grace, crashed);
    // Work of the new runtime, under way: a claim holding its lease, a send whose first check is not due.
    const { id: claimedNow } = await seedRequest();
    await claimRequests(env.DB, [claimedNow], Date.now(), 30_000);
    const { id: sentNow } = await seedRequest();
    const fresh = recordingQueue();
    await deliverSendJobs(withQueue(fresh.binding, testEnv), [sentNow]);

    const recovered = recordingQueue();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '* * * * *' }), withQueue(recovered.binding, testEnv), ctx);
    await waitOnExecutionContext(ctx);

    const bodies = recovered.messages.map((message) => message.body);
    expect(bodies).toHaveLength(7);
    expect(bodies).toEqual(
      expect.arrayContaining([...queued, midCall].map((requestId) => ({ type: 'send', v: 1, requestId })).concat([statusCheck(sentUnchecked, 1)])),
    );

    // The recovered work runs, and what it schedules after it.
    await drain(withQueue(recovered.binding, testEnv), recovered);
    for (const id of [...queued, midCall, sentUnchecked]) {
      expect(provider.sms(id), id).toBe(1);
      expect(await requestRow(id)).toMatchObject({ status: 'delivered', delivery_status: 'delivered' });
    }
    for (const id of queued) expect(provider.callsFor(id).filter((call) => call.route === SEND_ROUTE)).toHaveLength(1);
    // The request whose answer was lost was called again with its key: the provider answered with
    // the original message and sent nothing new.
    expect(provider.callsFor(midCall)).toHaveLength(2);
    expect(new Set(provider.callsFor(midCall).map((call) => JSON.stringify(call.body))).size).toBe(1);
    expect(await requestRow(midCall)).toMatchObject({ attempts: 2, provider_message_id: `msg-${providerIdempotencyKey(midCall)}` });

    // What was not lost was left alone.
    expect(await requestRow(retryLater)).toMatchObject({ status: 'queued', attempts: 1 });
    expect(await requestRow(claimedNow)).toMatchObject({ status: 'sending', attempts: 1 });
    expect(await requestRow(sentNow)).toMatchObject({ status: 'sent', delivery_status: null });
    // And the next run finds nothing more to do.
    const again = recordingQueue();
    const ctx2 = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '* * * * *' }), withQueue(again.binding, testEnv), ctx2);
    await waitOnExecutionContext(ctx2);
    expect(again.messages).toEqual([]);
  });

  it('a job merely slow cannot call once its lease is too far gone for the call to end within it', async () => {
    const provider = idempotentProvider();
    const { id } = await seedRequest();
    // Its send time lies 26 s ahead; the 30 s lease less the call's timeout and a margin ends first.
    const { testEnv } = withScriptedPacer(startMessagingEnv(), () => ({ slots: [Date.now() + 26_000], nextFreeAt: Date.now() + 26_040 }));
    const { ids, result } = await deliverSendJobs(testEnv, [id]);
    expect(provider.calls).toHaveLength(0);
    expect(result.retryMessages.map((message) => message.msgId)).toEqual(ids);
    expect(await requestRow(id)).toMatchObject({ status: 'queued', attempts: 0, lease_until: null });
  });
});
