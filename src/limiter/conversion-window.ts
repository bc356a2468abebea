import { z } from 'zod';

/**
 * The step-up's decision for one scope, from the counts of its sliding window: sends, the sends
 * of them that were verified (a verification counts in the bucket of its send, so conversion is
 * verified/sent of the same sends), sends the step-up refused, and browser sends it admitted once
 * their Turnstile challenge was solved. Pure: the ledger feeds it.
 */

export const StepUpPolicy = z.object({
  windowSeconds: z.number().int().min(1),
  graceSeconds: z.number().int().min(0),
  minSends: z.number().int().min(1),
  enterConversion: z.number().min(0).max(1),
  exitConversion: z.number().min(0).max(1),
});
export type StepUpPolicy = z.infer<typeof StepUpPolicy>;

/** A window is kept as 60 buckets (at least a second each): counters, not one row per send. */
export const BUCKETS_PER_WINDOW = 60;

export function bucketMs(windowSeconds: number): number {
  return Math.max(1000, Math.floor((windowSeconds * 1000) / BUCKETS_PER_WINDOW));
}

/** The start of the bucket `at` falls in. */
export function bucketOf(at: number, windowSeconds: number): number {
  const width = bucketMs(windowSeconds);
  return Math.floor(at / width) * width;
}

export interface BucketCounts {
  bucket: number;
  sends: number;
  verified: number;
  refused: number;
  solved: number;
}

export interface WindowTotals {
  /** Every send and refusal of the window. */
  sends: number;
  refused: number;
  /** Of the refusals, the challenges a browser then solved: real users, not an attack knocking. */
  solved: number;
  /** Sends old enough (past the grace) for a real user to have verified them, and those verified. */
  settledSends: number;
  settledVerified: number;
}

/** Sums the buckets inside the window; a bucket is settled once all of it is older than the grace. */
export function windowTotals(buckets: readonly BucketCounts[], policy: StepUpPolicy, now: number): WindowTotals {
  const width = bucketMs(policy.windowSeconds);
  const since = now - policy.windowSeconds * 1000;
  const settledBy = now - policy.graceSeconds * 1000;
  const totals: WindowTotals = { sends: 0, refused: 0, solved: 0, settledSends: 0, settledVerified: 0 };
  for (const counts of buckets) {
    if (counts.bucket < since) continue;
    totals.sends += counts.sends;
    totals.refused += counts.refused;
    totals.solved += counts.solved;
    if (counts.bucket + width <= settledBy) {
      totals.settledSends += counts.sends;
      totals.settledVerified += counts.verified;
    }
  }
  return totals;
}

export const conversionOf = (totals: WindowTotals): number | null => (totals.settledSends > 0 ? totals.settledVerified / totals.settledSends : null);

/**
 * Hysteresis: a normal scope steps up when enough settled sends convert below `enterConversion`;
 * a stepped-up one stays so for a window at least, then relaxes only when the attack has stopped
 * knocking (the step-up's refusals, less the challenges solved, no longer outnumber the sends) and what it sends converts at
 * `exitConversion` or better (or there is too little left to judge).
 */
export function judgeScope(steppedUp: boolean, totals: WindowTotals, policy: StepUpPolicy, steppedUpForMs = Number.POSITIVE_INFINITY): boolean {
  const conversion = conversionOf(totals);
  const judged = totals.settledSends >= policy.minSends && conversion !== null;
  if (!steppedUp) return judged && conversion < policy.enterConversion;
  // Held for a window at least: right after it steps up, the settled sends hover around
  // `minSends` and the isolates have not refused anything yet, which would read as recovery.
  if (steppedUpForMs < policy.windowSeconds * 1000) return true;
  // Still knocking: more refused than sent. A real user asked for Turnstile solves it and sends
  // again, so solved challenges do not count; real users refused by a trickle are a few, an attack is most of it.
  if (totals.refused - totals.solved > totals.sends) return true;
  if (!judged) return false;
  return conversion < Math.max(policy.exitConversion, policy.enterConversion);
}
