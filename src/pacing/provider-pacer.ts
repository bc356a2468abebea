import { DurableObject } from 'cloudflare:workers';
import { PacingSchedule, type Reservation, type ReserveInput } from './pacing-schedule';

export type { Reservation, ReserveInput } from './pacing-schedule';

/**
 * Paces calls to the SMS provider across every consumer invocation, so the account's request
 * rate (StartMessaging: 20/s) is never exceeded and work beyond it waits in the queue instead of
 * drawing 429s. It is one object, which is fine off the request path: one call per consumer
 * batch, not per message. The rule it grants send times by is `PacingSchedule`'s.
 */
export class ProviderPacer extends DurableObject<Env> {
  private schedule = new PacingSchedule();
  /** The object's clock; tests set their own. */
  protected clock: () => number = () => Date.now();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      // `nextFreeAt` is what the strictly spaced pacer stored: a little after its last time.
      const stored = await ctx.storage.get<number>(['lastSlot', 'nextFreeAt']);
      const last = stored.get('lastSlot') ?? stored.get('nextFreeAt');
      if (last === undefined) return;
      this.schedule = new PacingSchedule(last);
      if (stored.has('nextFreeAt')) {
        await ctx.storage.put('lastSlot', last);
        await ctx.storage.delete('nextFreeAt');
      }
    });
  }

  async reserve(input: ReserveInput): Promise<Reservation> {
    const reservation = this.schedule.reserve(input, this.clock());
    // Only the latest time is kept: after a restart nothing is granted for a planned window
    // (`PLANNED_WINDOW_MS`) past it, which covers every time granted before it.
    if (reservation.slots.length > 0) await this.ctx.storage.put('lastSlot', this.schedule.lastSlot);
    return reservation;
  }
}
