import { describe, expect, it } from 'vitest';
import { decide, retryDelaySeconds } from '../src/consumer/retry-policy';
import { parseRetryAfter } from '../src/providers/provider-http';

const settings = { baseSeconds: 2, maxSeconds: 60 };

describe('retryDelaySeconds', () => {
  it('is full jitter under an exponential ceiling, at least one second', () => {
    expect(retryDelaySeconds(1, settings, undefined, () => 0)).toBe(1);
    expect(retryDelaySeconds(1, settings, undefined, () => 0.999)).toBe(2);
    expect(retryDelaySeconds(4, settings, undefined, () => 0.999)).toBe(16);
    expect(retryDelaySeconds(20, settings, undefined, () => 0.999)).toBe(60);
    const spread = new Set(Array.from({ length: 200 }, () => retryDelaySeconds(6, settings, undefined)));
    expect(spread.size).toBeGreaterThan(20);
  });

  it('never goes below Retry-After', () => {
    expect(retryDelaySeconds(1, settings, 30, () => 0)).toBe(30);
    expect(retryDelaySeconds(1, settings, 0.2, () => 0)).toBe(1);
  });
});

describe('decide', () => {
  const now = 1_000_000;
  it('expires instead of retrying past the code’s expiry', () => {
    const outcome = { kind: 'transient' as const, httpStatus: 503, errorCode: 'provider_unavailable', message: 'x', retryAfterSeconds: 10 };
    expect(decide(outcome, { attemptNumber: 1, now, expiresAt: now + 9_000, retry: settings }).action).toBe('expire');
    expect(decide(outcome, { attemptNumber: 1, now, expiresAt: now + 60_000, retry: settings })).toMatchObject({ action: 'retry', delaySeconds: 10 });
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates', () => {
    const now = Date.parse('2026-11-26T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7);
    expect(parseRetryAfter('Thu, 26 Nov 2026 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Wed, 25 Nov 2026 00:00:30 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
