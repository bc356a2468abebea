import type { Config } from '../config';
import { sha256Hex } from '../crypto';
import { phonePrefix } from '../phone';
import { clientIpKey } from './client-ip';
import { consumeLimit, globalShardKey, ipLimitKey, phoneLimitKey, prefixGuardFor, refundLimit } from './limiter-client';

export type Admission =
  | { allowed: true; release: () => Promise<void> }
  | { allowed: false; reason: 'rate_limited' | 'global_budget'; retryAfterSeconds: number };

interface ScopeResult {
  allowed: boolean;
  retryAfterSeconds: number;
  reason: 'rate_limited' | 'global_budget';
  refund: () => Promise<void>;
}

/**
 * Decides whether one code may be sent: per phone (windows and a progressive cooldown), per
 * client IP, per destination prefix (with its pumping defence) and against a share of the
 * global budget. Every scope is asked at once, each in its own Durable Object, so each is exact;
 * when any denies, the scopes that admitted are refunded, so a denied request consumes nothing.
 */
export async function admitSend(
  env: Env,
  config: Config,
  request: { requestId: string; phoneNumber: string; clientIp: string | undefined },
): Promise<Admission> {
  const { limits } = config;
  const ipKey = clientIpKey(request.clientIp);
  const prefix = phonePrefix(request.phoneNumber);
  const [numberKey, blockKey] = await Promise.all([
    sha256Hex(`number:${request.phoneNumber}`),
    sha256Hex(`block:${request.phoneNumber.slice(0, -3)}`),
  ]);

  const scopes = await Promise.all([
    windowScope(env, phoneLimitKey(request.phoneNumber), config.phoneLimits, limits.phoneCooldown),
    ipKey ? windowScope(env, ipLimitKey(ipKey), limits.ip) : null,
    prefixScope(env, prefix, { requestId: request.requestId, numberKey, blockKey }, config),
    globalScope(env, config),
  ]);
  const results = scopes.filter((scope): scope is ScopeResult => scope !== null);
  const denied = results.filter((scope) => !scope.allowed);
  if (denied.length === 0) return { allowed: true, release: async () => void (await Promise.all(results.map((scope) => scope.refund()))) };

  await Promise.all(results.filter((scope) => scope.allowed).map((scope) => scope.refund()));
  const global = denied.find((scope) => scope.reason === 'global_budget');
  return {
    allowed: false,
    reason: global ? 'global_budget' : 'rate_limited',
    retryAfterSeconds: Math.max(...denied.map((scope) => scope.retryAfterSeconds), 1),
  };
}

async function windowScope(
  env: Env,
  key: string,
  rules: Config['phoneLimits'],
  cooldown?: Config['limits']['phoneCooldown'],
  reason: ScopeResult['reason'] = 'rate_limited',
): Promise<ScopeResult> {
  const decision = await consumeLimit(env, key, rules, cooldown);
  return {
    allowed: decision.allowed,
    retryAfterSeconds: decision.retryAfterSeconds,
    reason,
    refund: () => refundLimit(env, key, decision.eventId),
  };
}

async function prefixScope(
  env: Env,
  prefix: string,
  keys: { requestId: string; numberKey: string; blockKey: string },
  config: Config,
): Promise<ScopeResult> {
  const guard = prefixGuardFor(env, prefix);
  const decision = await guard.admit({ prefix, ...keys, rules: config.limits.prefix, pumping: config.pumping });
  return {
    allowed: decision.allowed,
    retryAfterSeconds: decision.allowed ? 0 : decision.retryAfterSeconds,
    reason: 'rate_limited',
    refund: () => guard.refund(keys.requestId),
  };
}

/**
 * The global budget is split over `globalShards` objects, each allowing its share, so no single
 * object sees every request. Sharding never admits more than the budget in total; it can deny
 * early when the shard drawn is spent while others are not, so a denied draw tries one more.
 */
async function globalScope(env: Env, config: Config): Promise<ScopeResult> {
  const shards = config.limits.globalShards;
  const rules = config.limits.global.map((rule) => ({ ...rule, limit: Math.max(1, Math.floor(rule.limit / shards)) }));
  const budget = `${config.limits.global.map((rule) => `${rule.limit}/${rule.windowSeconds}`).join(',')}@${shards}`;
  const first = Math.floor(Math.random() * shards);
  let result = await windowScope(env, globalShardKey(budget, first), rules, undefined, 'global_budget');
  if (!result.allowed && shards > 1) {
    const second = (first + 1 + Math.floor(Math.random() * (shards - 1))) % shards;
    result = await windowScope(env, globalShardKey(budget, second), rules, undefined, 'global_budget');
  }
  return result;
}

/** Whether a number's country calling code is allowed (null list: any). */
export function countryAllowed(phoneNumber: string, allowed: string[] | null): boolean {
  return allowed === null || allowed.some((code) => phoneNumber.startsWith(`+${code}`));
}
