import type { WindowRule } from '../config';
import type { LimitDecision } from './rate-limiter';

/**
 * Asks the Durable Object that owns `key` to admit one send under `rules`. Each key has its own
 * object, so no single object sits on every request's path.
 */
export async function consumeLimit(env: Env, key: string, rules: WindowRule[]): Promise<LimitDecision> {
  const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(key));
  return stub.consume({ rules });
}

export function phoneLimitKey(phoneNumber: string): string {
  return `phone:${phoneNumber}`;
}
