import { env } from 'cloudflare:test';
import { expect } from 'vitest';
import { PROVIDER_URL, requestRow, SEND_ROUTE, STATUS_ROUTE, seedRequest, startMessagingEnv } from './fixtures';
import { interceptOrigin, json, type RecordedCall } from './outbound';
import { deliverSendJobs } from './queue';
import { recordingQueue, withQueue } from './recording-queue';

/** A StartMessaging env whose queue is recorded, with checks every 30 s·2^n, at most 6. */
export function reportEnv(overrides: Record<string, string> = {}) {
  const queue = recordingQueue();
  const testEnv = withQueue(queue.binding, startMessagingEnv({ DELIVERY_CHECK_BASE_SECONDS: '30', DELIVERY_CHECK_MAX: '6', ...overrides }));
  return { queue, testEnv };
}

export const accepted = (messageId: string) => json(201, { success: true, data: { messageId, status: 'queued' } });
export const statusAnswer = (status: string, extra: Record<string, unknown> = {}) => json(200, { success: true, data: { messageId: 'm', status, ...extra } });

/** A request the provider accepted as `messageId`, sent through the real send path. */
export async function sentRequest(testEnv: Env, messageId: string) {
  const { id, phoneNumber } = await seedRequest();
  interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => accepted(messageId) });
  await deliverSendJobs(testEnv, [id]);
  expect((await requestRow(id)).status).toBe('sent');
  return { id, phoneNumber };
}

/** `count` requests the provider accepted in one send batch, each as a message id of its own. */
export async function sentTogether(testEnv: Env, count: number) {
  const requests = await Promise.all(Array.from({ length: count }, () => seedRequest()));
  const messageIds = new Map(requests.map((request) => [request.phoneNumber, `msg_${crypto.randomUUID()}`]));
  interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: (call) => accepted(messageIds.get((call.body as { phoneNumber: string }).phoneNumber)!) });
  await deliverSendJobs(
    testEnv,
    requests.map((request) => request.id),
  );
  for (const request of requests) expect((await requestRow(request.id)).status).toBe('sent');
  return requests.map((request) => ({ ...request, messageId: messageIds.get(request.phoneNumber)! }));
}

/** Answers status checks with `respond`, sends keep working; returns the status checks made. */
export function provider(respond: (call: RecordedCall) => Response | Promise<Response>, messageId = 'm') {
  const calls = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => accepted(messageId), [STATUS_ROUTE]: respond });
  return () => calls.filter((call) => call.route === STATUS_ROUTE);
}

export async function checkRows(requestId: string) {
  const { results } = await env.DB.prepare('SELECT * FROM status_checks WHERE request_id = ? ORDER BY check_number')
    .bind(requestId)
    .all<Record<string, unknown>>();
  return results;
}
