import { z } from 'zod';
import type { BlockReason } from '../db/prefix-blocks';

/**
 * The two SMS-pumping signals a PrefixGuard reads from its `sends` (the last hour of admitted
 * sends of its prefix): sends that are not verified, and runs of numbers of one thousand-block.
 */

export const PumpingPolicy = z.object({
  windowSeconds: z.number().int().min(1),
  graceSeconds: z.number().int().min(0),
  minSends: z.number().int().min(1),
  minConversion: z.number().min(0).max(1),
  blockSeconds: z.number().int().min(1),
  sequentialNumbers: z.number().int().min(2),
  sequentialSeconds: z.number().int().min(1),
});
export type PumpingPolicy = z.infer<typeof PumpingPolicy>;

export function pumpingSignal(
  sql: SqlStorage,
  send: { numberKey: string; blockKey: string },
  pumping: PumpingPolicy,
  now: number,
): { reason: BlockReason; note: string } | null {
  // Consecutive numbers: distinct numbers in this one thousand-number block, this one included.
  const distinct =
    sql
      .exec<{ n: number }>(
        'SELECT COUNT(DISTINCT number_key) AS n FROM sends WHERE block_key = ? AND at > ? AND number_key != ?',
        send.blockKey,
        now - pumping.sequentialSeconds * 1000,
        send.numberKey,
      )
      .one().n + 1;
  if (distinct >= pumping.sequentialNumbers) {
    return { reason: 'sequential_numbers', note: `${distinct} numbers of one thousand-block within ${pumping.sequentialSeconds} s` };
  }
  // Conversion of sends old enough to have been verified by a real user.
  const settled = sql
    .exec<{ sends: number; verified: number | null }>(
      'SELECT COUNT(*) AS sends, SUM(verified) AS verified FROM sends WHERE at > ? AND at <= ?',
      now - pumping.windowSeconds * 1000,
      now - pumping.graceSeconds * 1000,
    )
    .one();
  if (settled.sends >= pumping.minSends) {
    const conversion = (settled.verified ?? 0) / settled.sends;
    if (conversion < pumping.minConversion) {
      return { reason: 'low_conversion', note: `${Math.round(conversion * 100)}% of ${settled.sends} sends verified` };
    }
  }
  return null;
}
