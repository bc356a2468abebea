import type { WindowRule } from '../config';
import type { LimitDecision } from './rate-limiter';

/**
 * Asks the Durable Object that owns `key` to admit one send under `rules`. Each key has its own
 * object, so no single object sits on every request's path.
 */
export async function consumeLimit(env: Env, key: string, rules: WindowRule[]): Promise<LimitDecision> {
  return limiterFor(env, key).consume({ rules });
}

export async function refundLimit(env: Env, key: string): Promise<void> {
  await limiterFor(env, key).refund();
}

function limiterFor(env: Env, key: string) {
  return env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(key));
}

export function phoneLimitKey(phoneNumber: string): string {
  return `phone:${phoneNumber}`;
}

/** Failed verifications per phone, across all of its requests, so new codes do not reset the budget. */
export function verifyFailureKey(phoneNumber: string): string {
  return `verify-failures:${phoneNumber}`;
}
