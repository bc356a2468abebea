import type { WindowRule } from '../config';
import { sha256Hex } from '../crypto';
import { clientIpShardOf } from './client-ip-shards';
import type { BudgetState, ConsumeInput, LimitDecision } from './rate-limiter';

/**
 * Stubs for the limiter objects. Each key has its own object, so no single object sits on every
 * request's path; names are prefixed by scope so keys of different scopes never share state.
 */

export function rateLimiterFor(env: Env, key: string) {
  return env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(key));
}

/** The shard that holds a client address's windows (`ipLimitKey`, `unknownIpLimitKey`), and the key it knows the address by. */
export async function clientIpGuardFor(env: Env, limitKey: string) {
  const { shard, ipKey } = await clientIpShardOf(limitKey);
  return { guard: env.CLIENT_IP_GUARD.get(env.CLIENT_IP_GUARD.idFromName(shard)), ipKey };
}

export function prefixGuardFor(env: Env, prefix: string) {
  return env.PREFIX_GUARD.get(env.PREFIX_GUARD.idFromName(`prefix:${prefix}`));
}

export async function consumeLimit(env: Env, key: string, rules: WindowRule[], cooldown?: ConsumeInput['cooldown']): Promise<LimitDecision> {
  return rateLimiterFor(env, key).consume({ rules, cooldown });
}

/** Lends an event instead of recording it; `settleLimit` records or drops it (see `RateLimiter.hold`). */
export async function holdLimit(env: Env, key: string, rules: WindowRule[]): Promise<LimitDecision> {
  return rateLimiterFor(env, key).hold({ rules });
}

/** Answers the budget's state when the event was written (see `RateLimiter.settle`), else null. */
export async function settleLimit(env: Env, key: string, rules: WindowRule[], holdId: number | undefined, counts: boolean): Promise<BudgetState | null> {
  if (holdId === undefined) return null;
  return rateLimiterFor(env, key).settle({ holdId, counts, rules });
}

export async function refundLimit(env: Env, key: string, eventId?: number): Promise<void> {
  await rateLimiterFor(env, key).refund(eventId);
}

/** How a PrefixGuard knows a number (its sends and windows): a hash, never the number itself. */
export const numberKeyOf = (phoneNumber: string) => sha256Hex(`number:${phoneNumber}`);
export const ipLimitKey = (ip: string) => `ip:${ip}`;
/** The one bucket of every missing or unreadable client address; named by its budget, as the global one is. */
export const unknownIpLimitKey = (rules: WindowRule[]) => `ip-unknown:${rules.map((rule) => `${rule.limit}/${rule.windowSeconds}`).join(',')}`;
/** Named by the budget too: a changed budget starts counting afresh instead of inheriting old counts. */
export const globalShardKey = (budget: string, shard: number) => `global:${budget}:${shard}`;

/** An app's own daily SMS budget; kept when the budget changes, so a raised budget counts today's sends. */
export const appBudgetKey = (appId: string) => `app-budget:${appId}`;

/** The trickle of fresh numbers a stepped-up scope admits; named by the scope, so each scope has its own object. */
export const stepUpTrickleKey = (scope: string) => `step-up-trickle:${scope}`;

/** Failed verifications per phone, across all of its requests, so new codes do not reset the budget. */
export const verifyFailureKey = (phoneNumber: string) => `verify-failures:${phoneNumber}`;
