import { describe, expect, it } from 'vitest';
import { type Reservation, START_TOLERANCE_MS } from '../src/pacing/pacing-schedule';
import { type Clock, MAX_REBOOKINGS, StartGate } from '../src/pacing/start-gate';

const T = 1_800_000_000_000;

/** A clock that moves only when the code under test sleeps (by `overshootMs` more than asked: a late timer). */
function fakeClock(overshootMs = 0) {
  const clock = {
    time: T,
    sleeps: [] as number[],
    now: () => clock.time,
    sleep: async (ms: number) => {
      clock.sleeps.push(ms);
      clock.time += ms + overshootMs;
    },
  };
  return clock satisfies Clock;
}

/** Answers rebookings from a list, recording the lead each asked for; `takesMs` is the round trip. */
function pacer(clock: { time: number }, answers: Reservation[], takesMs = 0) {
  const leads: number[] = [];
  const rebook = async (leadMs: number) => {
    leads.push(leadMs);
    clock.time += takesMs;
    const answer = answers.shift();
    if (!answer) throw new Error('no more answers');
    return answer;
  };
  return { rebook, leads };
}

describe('StartGate', () => {
  it('waits for the send time and starts on it', async () => {
    const clock = fakeClock();
    const { rebook, leads } = pacer(clock, []);
    const gate = new StartGate(rebook, clock);
    expect(await gate.waitForStart(T + 300, Infinity)).toEqual({ start: true, startedAt: T + 300 });
    expect(clock.sleeps).toEqual([300]);
    expect(leads).toEqual([]);
  });

  it('starts a call held up by no more than the tolerance', async () => {
    const clock = fakeClock(START_TOLERANCE_MS);
    const gate = new StartGate(pacer(clock, []).rebook, clock);
    expect(await gate.waitForStart(T + 100, Infinity)).toEqual({ start: true, startedAt: T + 100 + START_TOLERANCE_MS });
  });

  it('a call that missed its time by more takes a new one, asked for about a pacer round trip ahead, and starts on that', async () => {
    const clock = fakeClock();
    clock.time = T + 400; // the claim took 400 ms: the time granted for T has passed
    const { rebook, leads } = pacer(clock, [{ slots: [T + 2000], nextFreeAt: T + 2040 }], 7);
    const gate = new StartGate(rebook, clock, 70);
    expect(await gate.waitForStart(T, Infinity)).toEqual({ start: true, startedAt: T + 2000 });
    // The round trip less half the tolerance: the answer may be due up to that much early.
    expect(leads).toEqual([70 - START_TOLERANCE_MS / 2]);
    expect(clock.sleeps).toEqual([2000 - 407]);
  });

  it('a new time already due when it arrives starts the call at once, without a timer', async () => {
    const clock = fakeClock();
    clock.time = T + 400;
    // An idle pacer answers with its own "now"; the answer takes 3 ms to arrive.
    const { rebook } = pacer(clock, [{ slots: [T + 400], nextFreeAt: T + 440 }], 3);
    const gate = new StartGate(rebook, clock, 3);
    expect(await gate.waitForStart(T, Infinity)).toEqual({ start: true, startedAt: T + 403 });
    expect(clock.sleeps).toEqual([]);
  });

  it(`a call late on every time it gets goes back to the queue after ${MAX_REBOOKINGS} new ones`, async () => {
    const clock = fakeClock(START_TOLERANCE_MS + 1); // every timer fires too late
    const answers = Array.from({ length: MAX_REBOOKINGS }, (_, i) => ({ slots: [T + 1000 * (i + 1)], nextFreeAt: T + 5000 }));
    const { rebook, leads } = pacer(clock, answers, 5);
    const gate = new StartGate(rebook, clock);
    expect(await gate.waitForStart(T + 10, Infinity)).toEqual({ start: false, reason: 'late', retryAfterSeconds: 1 });
    // Each new time is asked for with the slowest round trip seen so far, less half the tolerance, as its lead.
    expect(leads).toEqual([0, 0]);
  });

  it('a pacer with no time left within its horizon sends the call back until it frees up', async () => {
    const clock = fakeClock();
    clock.time = T + 500;
    const gate = new StartGate(pacer(clock, [{ slots: [], nextFreeAt: T + 7300 }]).rebook, clock);
    expect(await gate.waitForStart(T, Infinity)).toEqual({ start: false, reason: 'pacer_busy', retryAfterSeconds: 7 });
  });

  it('never starts a call at or after its deadline, nor waits for a time past it', async () => {
    const clock = fakeClock();
    const gate = new StartGate(pacer(clock, []).rebook, clock);
    expect(await gate.waitForStart(T + 3000, T + 3000)).toEqual({ start: false, reason: 'deadline', retryAfterSeconds: 3 });
    expect(clock.sleeps).toEqual([]);

    // The timer fires late, inside the tolerance but past the deadline.
    const late = fakeClock(30);
    const lateGate = new StartGate(pacer(late, []).rebook, late);
    expect(await lateGate.waitForStart(T + 100, T + 120)).toEqual({ start: false, reason: 'deadline', retryAfterSeconds: 1 });

    // A new time past the deadline is not waited for.
    const missed = fakeClock();
    missed.time = T + 200;
    const missedGate = new StartGate(pacer(missed, [{ slots: [T + 5000], nextFreeAt: T + 5040 }]).rebook, missed);
    expect(await missedGate.waitForStart(T, T + 4000)).toEqual({ start: false, reason: 'deadline', retryAfterSeconds: 5 });
    expect(missed.sleeps).toEqual([]);
  });

  it('an unreachable pacer fails the wait: the caller decides what becomes of the call', async () => {
    const clock = fakeClock();
    clock.time = T + 400;
    const gate = new StartGate(() => Promise.reject(new Error('Network connection lost.')), clock);
    await expect(gate.waitForStart(T, Infinity)).rejects.toThrow('Network connection lost.');
  });
});
