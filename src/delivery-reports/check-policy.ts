import type { CheckPlan } from '../db/status-checks';
import type { StatusOutcome } from '../providers/sms-provider';

export interface StatusCheckSettings {
  baseSeconds: number;
  maxChecks: number;
}

/** Longest wait between two checks: a report that late no longer matters to anyone waiting for a code. */
export const MAX_CHECK_DELAY_SECONDS = 3600;

/** When check number `check` runs, counted from the previous one: base·2^(check−1), capped. */
export function statusCheckDelaySeconds(check: number, settings: StatusCheckSettings): number {
  return Math.min(MAX_CHECK_DELAY_SECONDS, settings.baseSeconds * 2 ** Math.max(0, check - 1));
}

/**
 * What follows one status check. A final report ends the polling; a report that is not final yet,
 * or an answer worth retrying, schedules the next check with backoff until `maxChecks` is reached;
 * an answer that will not change (an unknown message id, refused credentials) ends it at once.
 */
export function planAfterCheck(outcome: StatusOutcome, check: number, settings: StatusCheckSettings): CheckPlan {
  const next = (floorSeconds = 0) => (check < settings.maxChecks ? Math.max(statusCheckDelaySeconds(check + 1, settings), Math.ceil(floorSeconds)) : null);
  switch (outcome.kind) {
    case 'report': {
      if (outcome.status === 'delivered') {
        return { result: 'delivered', deliveryStatus: 'delivered', nextCheckSeconds: null, errorCode: null, errorMessage: null };
      }
      if (outcome.status === 'failed') {
        return {
          result: 'failed',
          deliveryStatus: 'failed',
          nextCheckSeconds: null,
          errorCode: 'provider_delivery_failed',
          errorMessage: outcome.errorMessage ?? 'the provider reports the SMS was not delivered',
        };
      }
      const nextCheckSeconds = next();
      return { result: 'pending', deliveryStatus: nextCheckSeconds === null ? 'unknown' : 'pending', nextCheckSeconds, errorCode: null, errorMessage: null };
    }
    case 'transient': {
      const nextCheckSeconds = next(outcome.retryAfterSeconds);
      return {
        result: 'error',
        deliveryStatus: nextCheckSeconds === null ? 'unknown' : 'pending',
        nextCheckSeconds,
        errorCode: outcome.errorCode,
        errorMessage: outcome.message,
      };
    }
    case 'permanent':
      return { result: 'error', deliveryStatus: 'unknown', nextCheckSeconds: null, errorCode: outcome.errorCode, errorMessage: outcome.message };
  }
}
