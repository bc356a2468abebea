import { activeLockFrom, activeLockStatement } from '../db/phone-locks';
import { activeBlockFrom, activeBlockStatement } from '../db/prefix-blocks';
import type { RefusalReason } from './admission';

export interface RecordedRefusal {
  reason: Extract<RefusalReason, 'prefix_blocked' | 'phone_locked'>;
  retryAfterSeconds: number;
}

/**
 * Why D1's record refuses the number at `now`: a block of any length covering it (an operator's,
 * or a mirrored automatic one), else the phone's lock; null when neither is in force. Read only
 * after the request's insert was held back by exactly this record (see `insertRequestStatements`),
 * so an admitted send never pays for it: one round trip, on the rare path. When both are in force
 * the block is named (it lasts longest and needs an operator), with the later end of the two.
 */
export async function recordedRefusal(db: D1Database, phoneNumber: string, now: number): Promise<RecordedRefusal | null> {
  const [blocks, locks] = await db.batch([activeBlockStatement(db, phoneNumber, now), activeLockStatement(db, phoneNumber, now)]);
  const block = activeBlockFrom(blocks!);
  const lock = activeLockFrom(locks!);
  const secondsUntil = (at: number) => Math.ceil((at - now) / 1000);
  if (block) return { reason: 'prefix_blocked', retryAfterSeconds: secondsUntil(Math.max(block.until, lock?.lockedUntil ?? 0)) };
  if (lock) return { reason: 'phone_locked', retryAfterSeconds: secondsUntil(lock.lockedUntil) };
  return null;
}
