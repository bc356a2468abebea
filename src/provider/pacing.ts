import type { Config } from '../config';
import { delayUntilFree, reserveProviderSlots, waitUntilSlot } from '../consumer/provider-slots';

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
 * Slots from the same account-wide pacer the send path uses: a granted slot is waited for
 * (it is at most the pacer's horizon away), a refused one names when the pacer frees up.
 */
export function providerPacing(env: Env, config: Config): ProviderPacing {
  return {
    async acquireProviderSlot() {
      const reservation = await reserveProviderSlots(env, config, 1);
      const slot = reservation.slots[0];
      if (slot === undefined) return { granted: false, retryAfterSeconds: delayUntilFree(reservation) };
      await waitUntilSlot(slot);
      return { granted: true };
    },
  };
}
