import { describe, expect, it } from 'vitest';
import { withKey } from './support/apps';
import { attemptRows, PROVIDER_URL, requestRow, SEND_ROUTE, startMessagingEnv, uniquePhone } from './support/fixtures';
import { meteredDb } from './support/metered-db';
import { interceptOrigin, json } from './support/outbound';
import { deliverSendJobs } from './support/queue';
import { recordingQueue, withQueue } from './support/recording-queue';
import { verifyWithRightCode } from './support/verify';
import { fetchWithEnv } from './support/worker';

/**
 * D1 bills every row written, and every index entry a write adds or changes is one (issue 16):
 * these pin what one successful OTP (sent once, verified once) writes, statement by statement.
 */
describe('D1 rows written per successful OTP', () => {
  it('4 for the request, 1 for the claim, 2 for the attempt, 1 for its outcome, 1 for the verification: 9', async () => {
    const metered = meteredDb();
    const queue = recordingQueue();
    const testEnv = withQueue(queue.binding, { ...startMessagingEnv(), DB: metered.db } as Env);
    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: () => json(201, { success: true, data: { messageId: 'm-rows', status: 'queued' } }) });

    const created = await fetchWithEnv(
      new Request('https://otp.test/v1/otp', {
        method: 'POST',
        headers: withKey({ 'Content-Type': 'application/json' }),
        body: JSON.stringify({ phoneNumber: uniquePhone() }),
      }),
      testEnv,
    );
    expect(created.status).toBe(202);
    const { requestId } = await created.json<{ requestId: string }>();
    // The row itself (its primary key is the table), the time, phone and app indexes; no status index entry.
    expect(metered.rowsWritten(/INSERT INTO otp_requests/)).toBe(4);

    await deliverSendJobs(testEnv, [requestId]);
    expect((await requestRow(requestId)).status).toBe('sent');
    expect(metered.rowsWritten(/SET status = 'sending'/)).toBe(1);
    // The attempt (its (request_id, attempt_number) key is the table, migration 0016) and delivery_attempts_stats.
    expect(metered.rowsWritten(/INSERT INTO delivery_attempts/)).toBe(2);
    expect(await attemptRows(requestId)).toHaveLength(1);
    expect(metered.rowsWritten(/SET status = \?1, updated_at = \?2, lease_until = NULL/)).toBe(1);

    const verified = await verifyWithRightCode(requestId, testEnv);
    expect(verified.status).toBe(200);
    expect(metered.rowsWritten(/SET verify_attempts = verify_attempts \+ 1/)).toBe(1);
    expect(metered.rowsWritten(/verification_events/)).toBe(0);

    // Nothing else about the request is written (the test app has no webhook; its key's last use
    // may be marked, once a minute per isolate, in api_keys).
    expect(metered.rowsWritten(/otp_requests|delivery_attempts|verification_events/)).toBe(9);
    expect(metered.rowsWritten() - metered.rowsWritten(/api_keys/)).toBe(9);
  });
});
