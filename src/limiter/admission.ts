import type { Config } from '../config';
import { sha256Hex } from '../crypto';
import { errorName, logWarn } from '../log';
import { phonePrefix } from '../phone';
import { isSandboxTestNumber } from '../providers/sandbox';
import type { Taken } from './budget-leases';
import { clientIpKey } from './client-ip';
import { takeAppUnit, takeGlobalUnit } from './leased-budgets';
import { clientIpGuardFor, consumeLimit, ipLimitKey, numberKeyOf, prefixGuardFor, refundLimit, stepUpTrickleKey, unknownIpLimitKey } from './limiter-client';
import type { AdmitRefusal } from './prefix-guard';

/** Why a send was refused; each is the error code of its answer. */
export type RefusalReason =
  | 'prefix_blocked'
  | 'phone_locked'
  | 'phone_rate_limited'
  | 'ip_rate_limited'
  | 'prefix_rate_limited'
  | 'app_budget_exhausted'
  | 'global_budget_exhausted'
  | 'turnstile_required'
  | 'conversion_step_up';

/**
 * When several scopes refuse at once, the answer names the first of these: what lasts longest and
 * needs an operator first, then the caller's own limits from the narrowest scope out, and the
 * global budget (which says nothing about the caller) last. Retry-After is the longest of them all.
 * `prefix_blocked` here is the prefix object's automatic block; D1's record of blocks and locks
 * (`phone_locked`, operator blocks) is asked only once every scope admitted (recorded-refusal.ts).
 */
export const REFUSAL_ORDER: readonly RefusalReason[] = [
  'prefix_blocked',
  'phone_locked',
  'phone_rate_limited',
  'ip_rate_limited',
  'prefix_rate_limited',
  'app_budget_exhausted',
  'global_budget_exhausted',
  // Asked only once every scope above admitted (see stepUpRefusal), so never alongside them.
  'turnstile_required',
  'conversion_step_up',
];

export type Admission = { allowed: true; release: () => Promise<void> } | { allowed: false; reason: RefusalReason; retryAfterSeconds: number };

/** A limiter object could not answer, so nothing is known about the send. */
export class AdmissionUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`admission limiter unavailable: ${errorName(cause)}`);
    this.name = 'AdmissionUnavailableError';
  }
}

export { APP_BUDGET_WINDOW_SECONDS } from './leased-budgets';

export interface SendToAdmit {
  requestId: string;
  phoneNumber: string;
  clientIp: string | undefined;
  /** The calling app and its own daily SMS budget (null: none). */
  app?: { appId: string; dailySmsBudget: number | null };
  /** An app's test number: no SMS is sent, so only the caller's address is limited. */
  testNumber?: boolean;
  /**
   * A scope of the number is stepped up (scope-watch.ts): unless the number is returning, a
   * browser send needs a passed Turnstile check and any other send a unit of the scope's trickle.
   */
  stepUp?: { scope: string; browser: boolean; turnstilePassed: boolean };
}

interface Refusal {
  reason: RefusalReason;
  retryAfterSeconds: number;
}

interface ScopeResult {
  refusals: Refusal[];
  refund: () => Promise<void>;
  /** The prefix's object: whether the number verified a code recently. */
  returning?: boolean;
}

const nothingToRefund = async () => {};

/**
 * Decides whether one code may be sent: per phone (windows and a progressive cooldown) and per
 * destination prefix (with its pumping defence) in the prefix's one object, per client IP in its address's shard, against
 * the global budget and the calling app's own daily budget (when it set one), both spent from
 * leases this isolate holds (see budget-leases.ts). Every scope is asked at once, each limiter in a
 * Durable Object of its own key, so each is exact (a budget never exceeded). When any refuses (or
 * cannot answer), the scopes that admitted are refunded, so a refused request consumes nothing and
 * touches no D1. The blocks and locks on record in D1 (operator prefix blocks of any length,
 * locked phones) are not asked here: they are the condition of the admitted request's insert, and
 * a send they hold back is given back with the admission's `release`.
 */
export async function admitSend(
  env: Env,
  config: Config,
  request: SendToAdmit,
  /** Runs a budget lease's early refill after the answer (the request's waitUntil). */
  background?: (work: Promise<unknown>) => void,
): Promise<Admission> {
  const { limits } = config;
  const ipKey = clientIpKey(request.clientIp);
  // Every missing or unreadable address shares one strict bucket: never an unlimited one.
  const ipScope = ipKey ? clientIpScope(env, ipLimitKey(ipKey), limits.ip) : clientIpScope(env, unknownIpLimitKey(limits.unknownIp), limits.unknownIp);
  const scopes: Array<Promise<ScopeResult>> = [ipScope];
  // An app's test number sends no SMS: nothing to budget, pump or lock; only the caller's address is limited.
  if (!request.testNumber) {
    scopes.push(leasedScope(takeGlobalUnit(env, config, background), 'global_budget_exhausted'));
    const dailySmsBudget = request.app?.dailySmsBudget;
    if (request.app && dailySmsBudget) {
      scopes.push(leasedScope(takeAppUnit(env, config, { appId: request.app.appId, dailySmsBudget }, background), 'app_budget_exhausted'));
    }
    // The sandbox's test numbers are for trying the failure paths: they keep their phone limits but
    // never feed the pumping signals (five of them in a row would look like a sequential burst and block +15555).
    const feedsPrefix = !(config.provider.mode === 'sandbox' && isSandboxTestNumber(request.phoneNumber));
    scopes.push(phoneAndPrefixScope(env, request, config, feedsPrefix, request.stepUp !== undefined));
  }

  const settled = await Promise.allSettled(scopes);
  const answered = settled.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  const refusals = answered.flatMap((scope) => scope.refusals);
  const failure = settled.findIndex((outcome) => outcome.status === 'rejected');
  const release = async () => {
    const refunds = await Promise.allSettled(answered.map((scope) => scope.refund()));
    for (const refund of refunds) if (refund.status === 'rejected') logWarn('limiter.refund_failed', { error: errorName(refund.reason) });
  };
  if (refusals.length === 0 && failure === -1) {
    const returning = answered.some((scope) => scope.returning);
    if (!request.stepUp || returning) return { allowed: true, release };
    const stepUp = await stepUpScope(env, config, request.stepUp).catch((error: unknown) => {
      throw new AdmissionUnavailableError(error);
    });
    const releaseAll = async () => {
      await Promise.all([release(), stepUp.refund().catch((error) => logWarn('limiter.refund_failed', { error: errorName(error) }))]);
    };
    if (stepUp.refusals.length === 0) return { allowed: true, release: releaseAll };
    await releaseAll();
    return { allowed: false, ...stepUp.refusals[0]! };
  }

  await release();
  if (refusals.length > 0) {
    const first = REFUSAL_ORDER.find((reason) => refusals.some((refusal) => refusal.reason === reason))!;
    return { allowed: false, reason: first, retryAfterSeconds: Math.max(1, ...refusals.map((refusal) => refusal.retryAfterSeconds)) };
  }
  // Without an answer from every scope nothing is known: a refusal would be a guess, an admission unsafe.
  throw new AdmissionUnavailableError((settled[failure] as PromiseRejectedResult).reason);
}

async function windowScope(env: Env, key: string, rules: Config['limits']['ip'], reason: RefusalReason): Promise<ScopeResult> {
  const decision = await consumeLimit(env, key, rules);
  if (!decision.allowed) return { refusals: [{ reason, retryAfterSeconds: decision.retryAfterSeconds }], refund: nothingToRefund };
  return { refusals: [], refund: () => refundLimit(env, key, decision.eventId) };
}

/** The client address's windows, in the one shard its key hashes to (see client-ip-shards.ts). */
async function clientIpScope(env: Env, limitKey: string, rules: Config['limits']['ip']): Promise<ScopeResult> {
  const { guard, ipKey } = await clientIpGuardFor(env, limitKey);
  const decision = await guard.consume({ ipKey, rules });
  if (!decision.allowed) return { refusals: [{ reason: 'ip_rate_limited', retryAfterSeconds: decision.retryAfterSeconds }], refund: nothingToRefund };
  return { refusals: [], refund: () => guard.refund(ipKey, decision.eventId!) };
}

const PREFIX_GUARD_REFUSALS: Record<AdmitRefusal['scope'], RefusalReason> = {
  phone: 'phone_rate_limited',
  prefix: 'prefix_rate_limited',
  blocked: 'prefix_blocked',
};

/**
 * The number's windows and cooldown and its prefix's block, pumping signals and windows, in the
 * prefix's one object: every number of a prefix goes to the same object, so both are exact.
 */
async function phoneAndPrefixScope(
  env: Env,
  request: { requestId: string; phoneNumber: string },
  config: Config,
  prefixScope: boolean,
  askReturning: boolean,
): Promise<ScopeResult> {
  const prefix = phonePrefix(request.phoneNumber);
  const [numberKey, blockKey] = await Promise.all([numberKeyOf(request.phoneNumber), sha256Hex(`block:${request.phoneNumber.slice(0, -3)}`)]);
  const guard = prefixGuardFor(env, prefix);
  const decision = await guard.admit({
    prefix,
    requestId: request.requestId,
    numberKey,
    blockKey,
    rules: config.limits.prefix,
    pumping: config.pumping,
    phone: { rules: config.limits.phone, cooldown: config.limits.phoneCooldown },
    prefixScope,
    returningSeconds: askReturning ? config.stepUp.returningDays * 86_400 : undefined,
  });
  if (decision.allowed) return { refusals: [], refund: () => guard.refund(request.requestId), returning: decision.returning };
  const refusals = decision.refusals.map((refusal) => ({ reason: PREFIX_GUARD_REFUSALS[refusal.scope], retryAfterSeconds: refusal.retryAfterSeconds }));
  return { refusals, refund: nothingToRefund };
}

/**
 * A fresh number (never verified) in a stepped-up scope: a browser send passes with a Turnstile
 * check it already passed and is told to bring one otherwise; any other send takes a unit of the
 * scope's trickle (one call, made only here, on the stepped-up path).
 */
async function stepUpScope(env: Env, config: Config, stepUp: NonNullable<SendToAdmit['stepUp']>): Promise<ScopeResult> {
  if (stepUp.browser) {
    const refusals: Refusal[] = stepUp.turnstilePassed ? [] : [{ reason: 'turnstile_required', retryAfterSeconds: 1 }];
    return { refusals, refund: nothingToRefund };
  }
  return windowScope(env, stepUpTrickleKey(stepUp.scope), config.stepUp.trickle, 'conversion_step_up');
}

/** A unit of a leased budget (global, the app's): spent locally, given back locally on refund. */
async function leasedScope(taking: Promise<Taken>, reason: RefusalReason): Promise<ScopeResult> {
  const taken = await taking;
  if (!taken.ok) return { refusals: [{ reason, retryAfterSeconds: taken.retryAfterSeconds }], refund: nothingToRefund };
  return { refusals: [], refund: async () => taken.giveBack() };
}
