import { DurableObject } from 'cloudflare:workers';
import { z } from 'zod';

/**
 * Paces calls to the SMS provider across every consumer invocation, so the account's request
 * rate (StartMessaging: 20/s) is never exceeded and work beyond it waits in the queue instead of
 * drawing 429s. It is one object, which is fine off the request path: one call per consumer
 * batch, not per message.
 *
 * The rule is what "N requests per second" literally says: no 1-second interval holds more than
 * N send times. Each new time is the latest of now, the previous time plus a minimum gap (the even
 * spacing divided by `CATCH_UP_RATE`), and the time granted N places earlier plus one second.
 * Unlike strict 1/N spacing, capacity left unused while a consumer is between batches is caught
 * up afterwards, at a quarter above the even rate: never as a burst, so a provider whose bucket
 * is smaller than N still sees a nearly even stream (under a steady backlog: 0.8 s of calls, then
 * 0.2 s in which the consumer's next batch gets ready). A schedule that holds in every rolling
 * second is also accepted by a fixed-window counter (each fixed second is one of those
 * intervals) and by a token bucket of capacity N refilled at N/s (any span of d seconds holds at
 * most N(1 + d) calls, which is what such a bucket admits), so it is safe whichever of these the
 * provider runs.
 */

const WINDOW_MS = 1000;
/** How much faster than the even rate unused capacity is caught up. */
export const CATCH_UP_RATE = 1.25;

export const ReserveInput = z.object({
  count: z.number().int().min(0).max(1000),
  ratePerSecond: z.number().int().min(1).max(10_000),
  /** Only times within this many ms from now are handed out; later work should come back later. */
  horizonMs: z.number().int().min(0).max(60_000),
});
export type ReserveInput = z.infer<typeof ReserveInput>;

export interface Reservation {
  /** Epoch ms at which each granted call may start, ascending; fewer than asked when busy. */
  slots: number[];
  /** The first time not yet handed out. */
  nextFreeAt: number;
}

export class ProviderPacer extends DurableObject<Env> {
  /** Granted times that can still constrain a new one (later than a second ago), ascending. */
  private recent: number[] = [];
  /** The latest time ever granted, also kept in storage. */
  private lastSlot: number | undefined;
  /**
   * After a restart the times granted in the last second are unknown, only the latest one is
   * stored: nothing is granted before that second has passed, so none of them can be doubled.
   */
  private notBefore = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      // `nextFreeAt` is what the strictly spaced pacer stored: a little after its last time.
      const stored = await ctx.storage.get<number>(['lastSlot', 'nextFreeAt']);
      const last = stored.get('lastSlot') ?? stored.get('nextFreeAt');
      if (last === undefined) return;
      this.lastSlot = last;
      this.notBefore = last + WINDOW_MS;
      if (stored.has('nextFreeAt')) {
        await ctx.storage.put('lastSlot', last);
        await ctx.storage.delete('nextFreeAt');
      }
    });
  }

  async reserve(input: ReserveInput): Promise<Reservation> {
    const { count, ratePerSecond, horizonMs } = ReserveInput.parse(input);
    const now = Date.now();
    const minGapMs = WINDOW_MS / (CATCH_UP_RATE * ratePerSecond);
    // Times granted a second ago or earlier cannot hold a new one back.
    const current = this.recent.findIndex((at) => at > now - WINDOW_MS);
    this.recent.splice(0, current === -1 ? this.recent.length : current);

    const earliest = () => {
      const previous = this.recent.at(-1) ?? this.lastSlot ?? -Infinity;
      const nPlacesEarlier = this.recent.length >= ratePerSecond ? this.recent[this.recent.length - ratePerSecond]! : -Infinity;
      return Math.ceil(Math.max(now, this.notBefore, previous + minGapMs, nPlacesEarlier + WINDOW_MS));
    };
    const slots: number[] = [];
    let next = earliest();
    while (slots.length < count && next - now <= horizonMs) {
      slots.push(next);
      this.recent.push(next);
      this.lastSlot = next;
      next = earliest();
    }
    if (slots.length > 0) await this.ctx.storage.put('lastSlot', this.lastSlot);
    return { slots, nextFreeAt: next };
  }
}
