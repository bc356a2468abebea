import { DurableObject } from 'cloudflare:workers';
import { z } from 'zod';

/**
 * Paces calls to the SMS provider across every consumer invocation, so the account's request
 * rate (StartMessaging: 20/s) is never exceeded and work beyond it waits in the queue instead of
 * drawing 429s. It hands out send times spaced 1/rate apart (GCRA-style reservations); it is one
 * object, which is fine off the request path: one call per consumer batch, not per message.
 */

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
  private nextFreeAt: number | undefined;

  async reserve(input: ReserveInput): Promise<Reservation> {
    const { count, ratePerSecond, horizonMs } = ReserveInput.parse(input);
    const now = Date.now();
    const interval = 1000 / ratePerSecond;
    let next = Math.max(now, this.nextFreeAt ?? (await this.ctx.storage.get<number>('nextFreeAt')) ?? now);
    const slots: number[] = [];
    while (slots.length < count && next - now <= horizonMs) {
      slots.push(Math.ceil(next));
      next += interval;
    }
    this.nextFreeAt = next;
    if (slots.length > 0) await this.ctx.storage.put('nextFreeAt', next);
    return { slots, nextFreeAt: Math.ceil(next) };
  }
}
