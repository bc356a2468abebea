/** The account's rate limit: a token bucket per API key, `rateLimit` per second, `rateBurst` deep. */

export function createRateLimiter({ rateLimit, rateBurst }) {
  /** account -> { tokens, updatedAt } */
  let buckets = new Map();
  return {
    /** Takes a token for `account` at `now` (ms); false when its bucket is empty. No limit: always true. */
    take(account, now) {
      if (!rateLimit) return true;
      let bucket = buckets.get(account);
      if (!bucket) {
        bucket = { tokens: rateBurst, updatedAt: now };
        buckets.set(account, bucket);
      }
      bucket.tokens = Math.min(rateBurst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * rateLimit);
      bucket.updatedAt = now;
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return true;
      }
      return false;
    },
    reset() {
      buckets = new Map();
    },
  };
}
