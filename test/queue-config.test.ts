import { describe, expect, it } from 'vitest';
import { sendJob } from '../src/queue/messages';
import { seedRequest } from './support/fixtures';
import { deliver } from './support/queue';
import { envWith } from './support/worker';

describe('a queue batch under a broken config', () => {
  it.each(['otp-send', 'otp-webhooks'])('%s: the whole batch is kept, no message handled', async (queue) => {
    const { id } = await seedRequest();
    const body = queue === 'otp-send' ? sendJob(id) : { type: 'webhook', v: 1, eventId: `evt_${id}_sent` };
    const { result } = await deliver(envWith({ OTP_LENGTH: 'twelve' }), queue, [body, body]);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryBatch).toMatchObject({ retry: true });
  });
});
