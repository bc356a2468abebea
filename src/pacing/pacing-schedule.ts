import { z } from 'zod';

/**
 * The rule the provider pacer hands out send times by, on its own so that it can be checked with
 * any clock. "N calls per second" is read literally: no second, rolling or calendar, may hold more
 * than N calls *as the provider sees them*. A send time is not that: a call starts a little after
 * its time (timers fire late, a worker finishes its previous call) and reaches the provider a
 * little later still. So the schedule keeps a margin: N send times never fall within
 * `PLANNED_WINDOW_MS`, a second plus the most a call may start late (`START_TOLERANCE_MS`; the
 * consumer does not start a call later than that, it takes a new time instead) plus an allowance
 * for calls taking different times to travel (`TRANSIT_ALLOWANCE_MS`). Any N + 1 calls then reach
 * the provider more than a second apart, first to last.
 *
 * Each new time is the latest of: now plus the caller's lead, the previous time plus a minimum gap
 * (the even spacing divided by `CATCH_UP_RATE`), and the time granted N places earlier plus the
 * planned window. Unlike strict 1/N spacing, capacity left unused while a consumer is between
 * batches is caught up afterwards, at a quarter above the even rate: never as a burst, so a
 * provider whose bucket is smaller than N still sees a nearly even stream. A schedule that holds
 * in every rolling second is also accepted by a fixed-window counter (each fixed second is one of
 * those intervals) and by a token bucket of capacity N refilled at N/s.
 */

const WINDOW_MS = 1000;
/** How much faster than the even rate unused capacity is caught up. */
export const CATCH_UP_RATE = 1.25;
/** A call starting more than this after its send time does not start on it (it takes a new one). */
export const START_TOLERANCE_MS = 50;
/** How much more one call may take than another to reach the provider after it starts. */
export const TRANSIT_ALLOWANCE_MS = 100;
/** N send times never fall within this span. */
export const PLANNED_WINDOW_MS = WINDOW_MS + START_TOLERANCE_MS + TRANSIT_ALLOWANCE_MS;

export const ReserveInput = z.object({
  count: z.number().int().min(0).max(1000),
  ratePerSecond: z.number().int().min(1).max(10_000),
  /** Only times within this many ms from now are handed out; later work should come back later. */
  horizonMs: z.number().int().min(0).max(60_000),
  /** No time earlier than this many ms from now: the caller's own delay before it can start a call. */
  leadMs: z.number().int().min(0).max(10_000).default(0),
});
export type ReserveInput = z.input<typeof ReserveInput>;

export interface Reservation {
  /** Epoch ms at which each granted call may start, ascending; fewer than asked when busy. */
  slots: number[];
  /** The first time not yet handed out. */
  nextFreeAt: number;
}

export class PacingSchedule {
  /** Granted times that can still constrain a new one (within a planned window of now), ascending. */
  private recent: number[] = [];
  /** The latest time ever granted. */
  lastSlot: number | undefined;
  /**
   * After a restart the times granted just before it are unknown, only the latest one is kept:
   * nothing is granted before a planned window has passed since, so none of them can be doubled.
   */
  private readonly notBefore: number;

  constructor(restoredLastSlot?: number) {
    this.lastSlot = restoredLastSlot;
    this.notBefore = restoredLastSlot === undefined ? -Infinity : restoredLastSlot + PLANNED_WINDOW_MS;
  }

  reserve(input: ReserveInput, now: number): Reservation {
    const { count, ratePerSecond, horizonMs, leadMs } = ReserveInput.parse(input);
    const minGapMs = WINDOW_MS / (CATCH_UP_RATE * ratePerSecond);
    // Times granted a planned window ago or earlier cannot hold a new one back.
    const current = this.recent.findIndex((at) => at > now - PLANNED_WINDOW_MS);
    this.recent.splice(0, current === -1 ? this.recent.length : current);

    const earliest = () => {
      const previous = this.recent.at(-1) ?? this.lastSlot ?? -Infinity;
      const nPlacesEarlier = this.recent.length >= ratePerSecond ? this.recent[this.recent.length - ratePerSecond]! : -Infinity;
      return Math.ceil(Math.max(now + leadMs, this.notBefore, previous + minGapMs, nPlacesEarlier + PLANNED_WINDOW_MS));
    };
    const slots: number[] = [];
    let next = earliest();
    while (slots.length < count && next - now <= horizonMs) {
      slots.push(next);
      this.recent.push(next);
      this.lastSlot = next;
      next = earliest();
    }
    return { slots, nextFreeAt: next };
  }
}
