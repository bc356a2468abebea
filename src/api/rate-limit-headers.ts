import type { WindowRule } from '../config';
import { ApiError } from '../errors';

/**
 * A 429 with `Retry-After` and the IETF RateLimit fields. Every scope is reported under the one
 * policy name "otp", so the answer says when to come back but not which limit tripped.
 */
export function rateLimitedError(retryAfterSeconds: number, rules: WindowRule[]): ApiError {
  const seconds = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  const tightest = rules.reduce((a, b) => (a.windowSeconds <= b.windowSeconds ? a : b));
  return new ApiError('rate_limited', 'Too many code requests; try again later', {
    headers: {
      'Retry-After': seconds,
      RateLimit: `"otp";r=0;t=${seconds}`,
      'RateLimit-Policy': `"otp";q=${tightest.limit};w=${tightest.windowSeconds}`,
    },
    details: { retryAfterSeconds: Number(seconds) },
  });
}
