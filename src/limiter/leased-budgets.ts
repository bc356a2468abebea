import type { Config } from '../config';
import { BudgetLeases, type BudgetShape, type LeaseCall, type Taken } from './budget-leases';
import { appBudgetKey, globalShardKey, rateLimiterFor } from './limiter-client';

/**
 * The budgets admission spends through leases, one `BudgetLeases` per budget in this isolate:
 * the global budget over its shards and each app's daily budget (one object, `app-budget:<id>`).
 * Each is named by its shape, so a changed budget starts a fresh local pool (the shards' own
 * records decide what is left).
 */

/** An app's daily SMS budget is a rolling 24 hours. */
export const APP_BUDGET_WINDOW_SECONDS = 86_400;

const budgets = new Map<string, BudgetLeases>();

function budgetNamed(name: string, shape: BudgetShape): BudgetLeases {
  let budget = budgets.get(name);
  if (!budget) {
    budget = new BudgetLeases(shape);
    budgets.set(name, budget);
  }
  return budget;
}

const leaseCall =
  (env: Env, keyOf: (shard: number) => string): LeaseCall =>
  (shard, input) =>
    rateLimiterFor(env, keyOf(shard)).lease(input);

/**
 * The global budget is split over `globalShards` objects, each granting leases of its share, so
 * no single object sees every request and none admits more than its share.
 */
export function takeGlobalUnit(env: Env, config: Config, background?: (work: Promise<unknown>) => void): Promise<Taken> {
  const { limits } = config;
  const shards = limits.globalShards;
  const rules = limits.global.map((rule) => ({ ...rule, limit: Math.max(1, Math.floor(rule.limit / shards)) }));
  const budget = `${limits.global.map((rule) => `${rule.limit}/${rule.windowSeconds}`).join(',')}@${shards}`;
  const shape = { rules, shards, maxUnits: limits.budgetLeaseUnits, growUnits: limits.budgetLeaseMaxUnits, leaseMs: limits.budgetLeaseSeconds * 1000 };
  const pool = budgetNamed(`global:${budget}:${shape.maxUnits}-${shape.growUnits}/${shape.leaseMs}`, shape);
  return pool.take(
    leaseCall(env, (shard) => globalShardKey(budget, shard)),
    background,
  );
}

/** The calling app's own daily budget, in its one object. */
export function takeAppUnit(
  env: Env,
  config: Config,
  app: { appId: string; dailySmsBudget: number },
  background?: (work: Promise<unknown>) => void,
): Promise<Taken> {
  const { limits } = config;
  const shape = {
    rules: [{ limit: app.dailySmsBudget, windowSeconds: APP_BUDGET_WINDOW_SECONDS }],
    shards: 1,
    maxUnits: limits.budgetLeaseUnits,
    growUnits: limits.budgetLeaseMaxUnits,
    leaseMs: limits.budgetLeaseSeconds * 1000,
  };
  const pool = budgetNamed(`app-budget:${app.appId}:${app.dailySmsBudget}:${shape.maxUnits}-${shape.growUnits}/${shape.leaseMs}`, shape);
  return pool.take(
    leaseCall(env, () => appBudgetKey(app.appId)),
    background,
  );
}
