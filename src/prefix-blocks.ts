import { z } from 'zod';
import { prefixGuardFor } from './limiter/limiter-client';
import type { PrefixBlock } from './limiter/prefix-guard';
import { phonePrefix } from './phone';

export type { PrefixBlock } from './limiter/prefix-guard';

/**
 * What the prefix-block defence answers to the rest of the Worker: whether a number may be sent
 * to (asked of the PrefixGuard object that enforces it), and which blocks are active (read from
 * the D1 mirror, since objects cannot be listed). Operator resends ask it per phone.
 */
export interface PrefixBlocks {
  isBlocked(phoneNumber: string): Promise<boolean>;
  listActive(): Promise<PrefixBlock[]>;
}

const BlockRow = z.object({
  prefix: z.string(),
  reason: z.enum(['low_conversion', 'sequential_numbers', 'operator']),
  note: z.string().nullable(),
  blocked_at: z.number(),
  until: z.number(),
});

export function prefixBlocksFor(env: Env): PrefixBlocks {
  return {
    async isBlocked(phoneNumber) {
      const { block } = await prefixGuardFor(env, phonePrefix(phoneNumber)).status();
      return block !== null;
    },
    async listActive() {
      const { results } = await env.DB.prepare(
        `SELECT prefix, reason, note, blocked_at, until FROM prefix_blocks
         WHERE lifted_at IS NULL AND until > ?1 ORDER BY blocked_at DESC LIMIT 500`,
      )
        .bind(Date.now())
        .all();
      return results.map((row) => {
        const parsed = BlockRow.parse(row);
        return { prefix: parsed.prefix, reason: parsed.reason, note: parsed.note, blockedAt: parsed.blocked_at, until: parsed.until };
      });
    },
  };
}
