import type { Config } from '../config';
import { delayUntilFree, providerSlots } from './provider-slots';
import { type Clock, StartGate, systemClock } from './start-gate';

/**
 * The provider allows a fixed number of calls per second for the whole account (20 for
 * StartMessaging), shared by sends and status checks. Every provider call outside the send path
 * asks for a slot here first; a refusal says when to come back.
 */
export type ProviderSlot = { granted: true } | { granted: false; retryAfterSeconds: number };

export type ProviderCallPurpose = 'send' | 'status_check';

export interface ProviderPacing {
  acquireProviderSlot(purpose: ProviderCallPurpose): Promise<ProviderSlot>;
}

/** Grants every call at once: for tests of code that is not about pacing. */
export const UNPACED: ProviderPacing = {
  acquireProviderSlot: async () => ({ granted: true }),
};

/**
 * Slots from the same account-wide pacer the send path uses: a granted slot is waited for (it is
 * at most the pacer's horizon away) and the call must start on it, as on the send path (a missed
 * one is exchanged for a new one); a refused one names when the pacer frees up.
 */
export function providerPacing(env: Env, config: Config, clock: Clock = systemClock, provider?: string): ProviderPacing {
  const reserve = providerSlots(env, config, provider);
  return {
    async acquireProviderSlot() {
      const askedAt = clock.now();
      const reservation = await reserve(1, 0);
      const slot = reservation.slots[0];
      if (slot === undefined) return { granted: false, retryAfterSeconds: delayUntilFree(reservation, clock.now()) };
      const gate = new StartGate((leadMs) => reserve(1, leadMs), clock, clock.now() - askedAt);
      const start = await gate.waitForStart(slot, Infinity);
      return start.start ? { granted: true } : { granted: false, retryAfterSeconds: start.retryAfterSeconds };
    },
  };
}
