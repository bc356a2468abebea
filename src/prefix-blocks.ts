import type { Config } from './config';

/** A destination prefix that abuse defence has closed to SMS for a while. */
export interface PrefixBlock {
  prefix: string;
  reason: string;
  since: string;
  until: string | null;
}

/**
 * What the prefix-block defence answers to the rest of the Worker: whether a number may be sent
 * to, and which blocks are active (the dashboard lists them). Operator resends ask it per phone.
 */
export interface PrefixBlocks {
  isBlocked(phoneNumber: string): Promise<boolean>;
  listActive(): Promise<PrefixBlock[]>;
}

/** No prefix is blocked. */
export const NO_PREFIX_BLOCKS: PrefixBlocks = {
  isBlocked: async () => false,
  listActive: async () => [],
};

/** The prefix blocks in force for this deployment. */
export function prefixBlocksFor(_env: Env, _config: Config): PrefixBlocks {
  return NO_PREFIX_BLOCKS;
}
