import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { SANDBOX_MAGIC_NUMBERS } from '../src/providers/sandbox';
import { elapse } from './support/elapse';
import { attemptRows, requestRow, seedRequest } from './support/fixtures';
import { deliverSendJobs } from './support/queue';

describe('the sandbox’s misbehaving numbers, as the table in docs/delivery.md describes them', () => {
  it('+15555550101 (always unavailable) is retried with backoff and ends failed / retries_exhausted after SEND_MAX_ATTEMPTS calls, its code still valid', async () => {
    const config = loadConfig(env);
    const { id } = await seedRequest({ phoneNumber: SANDBOX_MAGIC_NUMBERS.unavailable, ttlMs: config.otp.ttlSeconds * 1000 });
    const delays: number[] = [];
    for (let delivery = 1; delivery <= config.provider.maxAttempts; delivery++) {
      const { ids, result } = await deliverSendJobs(env, [id], delivery);
      const retried = result.retryMessages[0];
      if (!retried) {
        expect(result.explicitAcks).toEqual(ids);
        break;
      }
      delays.push(retried.delaySeconds!);
      // The queue holds the job that long before it comes back.
      await elapse(retried.delaySeconds! * 1000, [id]);
    }
    expect(delays).toHaveLength(config.provider.maxAttempts - 1);
    const row = await requestRow(id);
    expect(row).toMatchObject({ status: 'failed', attempts: 8, last_error_code: 'retries_exhausted' });
    expect(row.expires_at).toBeGreaterThan(Date.now());
    expect((await attemptRows(id)).map((attempt) => attempt.http_status)).toEqual(Array(8).fill(503));

    // Not by luck of the jitter: at the defaults even the longest backoffs (2, 4, 8, 16, 32, 60,
    // 60 s) end well inside the 300 s lifetime, so this number never ends `expired`.
    const longest = delays.map((_, index) => Math.min(config.provider.retry.maxSeconds, config.provider.retry.baseSeconds * 2 ** index));
    expect(longest.reduce((sum, seconds) => sum + seconds, 0)).toBe(182);
    expect(config.otp.ttlSeconds).toBe(300);
  });
});
