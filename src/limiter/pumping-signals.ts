import { z } from 'zod';
import type { BlockReason } from '../db/prefix-blocks';
import { SENDS } from './send-log';
import { VERIFIED_NUMBERS } from './verified-numbers';

/**
 * The two SMS-pumping signals a PrefixGuard reads from its send log (the rows that count for the
 * prefix, within the signals' windows: range scans of the log, which is clustered by time): sends
 * that are not verified, and runs of numbers of one thousand-block.
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
        `SELECT COUNT(DISTINCT number_key) AS n FROM ${SENDS} WHERE at > ? AND prefix_scope = 1 AND block_key = ? AND number_key != ?`,
        now - pumping.sequentialSeconds * 1000,
        send.blockKey,
        send.numberKey,
      )
      .one().n + 1;
  if (distinct >= pumping.sequentialNumbers) {
    return { reason: 'sequential_numbers', note: `${distinct} numbers of one thousand-block within ${pumping.sequentialSeconds} s` };
  }
  // Conversion of sends old enough to have been verified by a real user.
  const settled = conversion(sql, now - pumping.windowSeconds * 1000, now - pumping.graceSeconds * 1000);
  if (settled.sends >= pumping.minSends) {
    const conversion = (settled.verified ?? 0) / settled.sends;
    if (conversion < pumping.minConversion) {
      return { reason: 'low_conversion', note: `${Math.round(conversion * 100)}% of ${settled.sends} sends verified` };
    }
  }
  return null;
}

/**
 * The prefix's sends in (`after`, `until`] and how many of them were verified: a send is verified
 * when its number verified a code at or after it (the number's verified row, verified-numbers.ts).
 * A code superseded by a later one its user then verified counts as converted too: it went to a
 * real user.
 */
export function conversion(sql: SqlStorage, after: number, until: number): { sends: number; verified: number | null } {
  return sql
    .exec<{ sends: number; verified: number | null }>(
      `SELECT COUNT(*) AS sends, SUM(EXISTS (SELECT 1 FROM ${VERIFIED_NUMBERS} v WHERE v.number_key = s.number_key AND v.at >= s.at)) AS verified
       FROM ${SENDS} s WHERE s.at > ? AND s.at <= ? AND s.prefix_scope = 1`,
      after,
      until,
    )
    .one();
}
