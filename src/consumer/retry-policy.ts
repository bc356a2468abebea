import type { z } from 'zod';
import type { SendOutcome } from '../providers/sms-provider';
import type { Decision as DecisionSchema } from '../queue/messages';

export interface RetrySettings {
  baseSeconds: number;
  maxSeconds: number;
}

/**
 * Exponential backoff with full jitter (a uniform delay up to base·2^(n−1), capped), so that a
 * provider outage does not end with every queued message retrying in the same second. A
 * provider's Retry-After is a floor, never shortened by jitter.
 */
export function retryDelaySeconds(
  attemptNumber: number,
  settings: RetrySettings,
  retryAfterSeconds: number | undefined,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(settings.maxSeconds, settings.baseSeconds * 2 ** Math.max(0, attemptNumber - 1));
  const jittered = Math.max(1, Math.ceil(random() * ceiling));
  return Math.max(jittered, Math.ceil(retryAfterSeconds ?? 0));
}

export type Decision = z.infer<typeof DecisionSchema>;

/** What to do after one provider call, given when the request's code stops being valid. */
export function decide(
  outcome: SendOutcome,
  context: {
    attemptNumber: number;
    now: number;
    expiresAt: number;
    retry: RetrySettings;
    maxAttempts?: number;
    random?: () => number;
    /** The next attempt goes to another provider: it waits this long instead of the backoff. */
    failoverSeconds?: number;
  },
): Decision {
  switch (outcome.kind) {
    case 'sent':
      return { action: 'sent', messageId: outcome.messageId };
    case 'permanent':
      return { action: 'fail', errorCode: outcome.errorCode, message: outcome.message };
    case 'transient': {
      if (context.maxAttempts !== undefined && context.attemptNumber >= context.maxAttempts) {
        return { action: 'fail', errorCode: 'retries_exhausted', message: `${outcome.errorCode} on all ${context.attemptNumber} attempts` };
      }
      // A provider's Retry-After is about that provider: a failover does not wait for it.
      const delaySeconds = context.failoverSeconds ?? retryDelaySeconds(context.attemptNumber, context.retry, outcome.retryAfterSeconds, context.random);
      if (context.now + delaySeconds * 1000 >= context.expiresAt) {
        // A code that arrives after it expired is useless and costs money: stop here.
        return {
          action: 'expire',
          errorCode: 'expired_before_delivery',
          message: `${outcome.errorCode}; the next try would come after the code expires`,
        };
      }
      return { action: 'retry', delaySeconds, errorCode: outcome.errorCode, message: outcome.message };
    }
  }
}
