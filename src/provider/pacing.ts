import type { Config } from '../config';

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

/** Grants every call at once: the account-wide token bucket is what `providerPacing` returns instead. */
export const UNPACED: ProviderPacing = {
  acquireProviderSlot: async () => ({ granted: true }),
};

/** The pacing every status check goes through. */
export function providerPacing(_env: Env, _config: Config): ProviderPacing {
  return UNPACED;
}
