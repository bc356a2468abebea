import { type Reservation, START_TOLERANCE_MS } from './pacing-schedule';

/** Where the send path reads the time and waits: the system clock, or a test's. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** A call that missed its send time takes a new one at most this many times, then goes back to the queue. */
export const MAX_REBOOKINGS = 2;

export type StartDecision = { start: true; startedAt: number } | { start: false; reason: 'pacer_busy' | 'deadline' | 'late'; retryAfterSeconds: number };

/** Asks the pacer for one new send time, none sooner than `leadMs` from now. */
export type Rebook = (leadMs: number) => Promise<Reservation>;

/**
 * Starts provider calls on their send times, and only there. The pacer's schedule allows for a
 * call starting up to `START_TOLERANCE_MS` after its time; a call held up longer (a slow D1
 * claim, a worker still busy with its previous call, a late timer) would bunch with the calls
 * after it, so it takes a new time instead, at the end of the schedule. One that cannot get a
 * time before its deadline (the code's expiry, or the end of its lease less one call) is not
 * started at all: the caller puts it back in the queue.
 */
export class StartGate {
  /** The slowest pacer round trip seen: a new time is asked for about that far ahead. */
  private roundTripMs: number;

  constructor(
    private readonly rebook: Rebook,
    private readonly clock: Clock,
    roundTripMs = 0,
  ) {
    this.roundTripMs = roundTripMs;
  }

  /** Resolves when the call may start (`startedAt` is the time to record), or why it may not. */
  async waitForStart(slot: number, deadline: number): Promise<StartDecision> {
    let time = slot;
    for (let rebookings = 0; ; rebookings++) {
      if (time >= deadline) return { start: false, reason: 'deadline', retryAfterSeconds: secondsUntil(time, this.clock.now()) };
      const wait = time - this.clock.now();
      if (wait > 0) await this.clock.sleep(wait);
      const now = this.clock.now();
      if (now <= time + START_TOLERANCE_MS) {
        if (now < deadline) return { start: true, startedAt: now };
        return { start: false, reason: 'deadline', retryAfterSeconds: 1 };
      }
      if (rebookings === MAX_REBOOKINGS) return { start: false, reason: 'late', retryAfterSeconds: 1 };
      // Due about when the answer arrives, but up to half the tolerance early: an idle pacer's time
      // is then due on arrival and the call starts at once, with no timer that could fire late.
      const askedAt = this.clock.now();
      const reservation = await this.rebook(Math.max(0, this.roundTripMs - START_TOLERANCE_MS / 2));
      const answeredAt = this.clock.now();
      this.roundTripMs = Math.max(this.roundTripMs, answeredAt - askedAt);
      const next = reservation.slots[0];
      if (next === undefined) return { start: false, reason: 'pacer_busy', retryAfterSeconds: secondsUntil(reservation.nextFreeAt, answeredAt) };
      time = next;
    }
  }
}

function secondsUntil(time: number, now: number): number {
  return Math.max(1, Math.ceil((time - now) / 1000));
}
