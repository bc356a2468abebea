import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { bucketMs, bucketOf, judgeScope, type StepUpPolicy, windowTotals } from '../src/limiter/conversion-window';
import { scopeLedgerFor } from '../src/limiter/scope-watch';

const policy: StepUpPolicy = { windowSeconds: 600, graceSeconds: 60, minSends: 20, enterConversion: 0.4, exitConversion: 0.6 };
const width = bucketMs(policy.windowSeconds);
const T0 = bucketOf(1_800_000_000_000, policy.windowSeconds);
const totals = (sends: number, verified: number, refused = 0) => ({ sends, refused, settledSends: sends, settledVerified: verified });

describe('conversion windows', () => {
  it('counts only buckets inside the window, and judges only those past the grace', () => {
    const buckets = [
      { bucket: T0 - 700_000, sends: 50, verified: 0, refused: 0 }, // left the window
      { bucket: T0, sends: 10, verified: 8, refused: 1 },
      { bucket: T0 + 5 * width, sends: 4, verified: 1, refused: 2 }, // inside the grace at T0 + 6 buckets + 30 s
    ];
    const now = T0 + 6 * width + 30_000;
    expect(windowTotals(buckets, policy, now)).toEqual({ sends: 14, refused: 3, settledSends: 10, settledVerified: 8 });
    // A minute later the second bucket is settled too.
    expect(windowTotals(buckets, policy, now + 60_000)).toEqual({ sends: 14, refused: 3, settledSends: 14, settledVerified: 9 });
  });

  it('steps up below the entry conversion, only with enough volume', () => {
    expect(judgeScope(false, totals(19, 0), policy)).toBe(false);
    expect(judgeScope(false, totals(20, 7), policy)).toBe(true);
    expect(judgeScope(false, totals(20, 8), policy)).toBe(false);
  });

  it('hysteresis: a stepped-up scope stays up between the two thresholds and while refusals outnumber sends', () => {
    expect(judgeScope(true, totals(100, 50), policy)).toBe(true);
    expect(judgeScope(false, totals(100, 50), policy)).toBe(false);
    expect(judgeScope(true, totals(100, 70, 101), policy)).toBe(true);
    expect(judgeScope(true, totals(100, 70, 100), policy)).toBe(false);
    // Nothing left to judge and nobody knocking: it relaxes.
    expect(judgeScope(true, totals(3, 0), policy)).toBe(false);
  });
});

describe('the scope ledger', () => {
  const report = (scope: string, now: number, counts: Array<{ at: number; sends?: number; verified?: number; refused?: number }>) =>
    scopeLedgerFor(env).report({
      now,
      policy,
      counts: counts.map((c) => ({ scope, bucket: bucketOf(c.at, policy.windowSeconds), sends: c.sends ?? 0, verified: c.verified ?? 0, refused: c.refused ?? 0 })),
    });

  it('steps a scope up once its settled sends stop converting, alerts, and relaxes when conversion recovers', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const scope = 'country:+998';
    // Batches from two isolates: 30 sends, 3 verified, all in one bucket.
    expect((await report(scope, T0 + 1000, [{ at: T0, sends: 20, verified: 2 }])).steppedUp).not.toContain(scope);
    expect((await report(scope, T0 + 2000, [{ at: T0, sends: 10, verified: 1 }])).steppedUp).not.toContain(scope);
    // Still inside the grace: not judged.
    expect((await report(scope, T0 + 50_000, [])).steppedUp).not.toContain(scope);
    const stepped = await report(scope, T0 + width + 61_000, []);
    expect(stepped.steppedUp).toContain(scope);
    const logged = errors.mock.calls.flat().join('\n');
    errors.mockRestore();
    expect(logged).toContain('"event":"scope.stepped_up"');
    expect(logged).toContain(scope);

    // Real users keep verifying: 40 sends, 36 verified, but the bad bucket is still in the window: 39 of 70 verified, 56%.
    const later = T0 + 300_000;
    expect((await report(scope, later, [{ at: later - 120_000, sends: 40, verified: 36 }])).steppedUp).toContain(scope);
    // Once the bad sends leave the window, conversion is 90%: it relaxes by itself.
    const recovered = T0 + policy.windowSeconds * 1000 + width + 1000;
    expect((await report(scope, recovered, [])).steppedUp).not.toContain(scope);
    const listed = await scopeLedgerFor(env).list({ now: recovered, policy });
    expect(listed.find((view) => view.scope === scope)).toMatchObject({ mode: 'normal', signal: 'normal', settledSends: 40, settledVerified: 36 });
  });

  it("an operator's override beats the signal both ways, and `null` gives the scope back to it", async () => {
    const ledger = scopeLedgerFor(env);
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {});
    const low = 'country:+997';
    await report(low, T0 + 1000, [{ at: T0, sends: 30 }]);
    expect((await report(low, T0 + width + 61_000, [])).steppedUp).toContain(low);
    quiet.mockRestore();
    await ledger.override({ scope: low, mode: 'normal', note: 'a promotion', now: T0 + width + 62_000 });
    expect((await report(low, T0 + width + 63_000, [])).steppedUp).not.toContain(low);
    const quietScope = 'app:app_quiet';
    await ledger.override({ scope: quietScope, mode: 'stepped_up', note: null, now: T0 + width + 64_000 });
    const both = await report(low, T0 + width + 65_000, []);
    expect(both.steppedUp).toContain(quietScope);
    expect(both.steppedUp).not.toContain(low);
    await ledger.override({ scope: low, mode: null, note: null, now: T0 + width + 66_000 });
    expect((await report(low, T0 + width + 67_000, [])).steppedUp).toContain(low);
  });
});
