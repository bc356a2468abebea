/**
 * When a failed post is tried again: exponential backoff with full jitter (each wait is drawn
 * uniformly between zero and 30 s · 2ⁿ, at most four hours), for a day after the event happened
 * (or an operator redelivered it), at most 30 attempts. Full jitter spreads the retries of many
 * events that failed together (a receiver that was down), so they do not all come back at once.
 */
export const WEBHOOK_RETRY = { baseSeconds: 30, maxSeconds: 4 * 3600, maxRoundAttempts: 30 } as const;

export type NextStep = { retryInSeconds: number } | { giveUp: true };

/** After a failed attempt: `roundAttempts` made (this one included), retried until `retryUntil`. */
export function nextStep(event: { round_attempts: number; retry_until: number }, now: number, random: () => number = Math.random): NextStep {
  const leftSeconds = Math.floor((event.retry_until - now) / 1000);
  if (event.round_attempts >= WEBHOOK_RETRY.maxRoundAttempts || leftSeconds < 1) return { giveUp: true };
  const ceiling = Math.min(WEBHOOK_RETRY.maxSeconds, WEBHOOK_RETRY.baseSeconds * 2 ** Math.min(event.round_attempts - 1, 20));
  const drawn = Math.max(1, Math.ceil(random() * ceiling));
  // The last retry lands on the end of the window rather than past it.
  return { retryInSeconds: Math.min(drawn, leftSeconds) };
}
