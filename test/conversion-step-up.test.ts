import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { countryScopeOf, SCOPE_PATTERN, scopesOf } from '../src/limiter/conversion-scopes';
import { bucketMs, bucketOf, judgeScope, type StepUpPolicy, windowTotals } from '../src/limiter/conversion-window';
import type { ReportInput } from '../src/limiter/scope-ledger';
import { ScopeWatch, scopeLedgerFor } from '../src/limiter/scope-watch';

const policy: StepUpPolicy = { windowSeconds: 600, graceSeconds: 60, minSends: 20, enterConversion: 0.4, exitConversion: 0.6 };
const width = bucketMs(policy.windowSeconds);
const T0 = bucketOf(1_800_000_000_000, policy.windowSeconds);
const totals = (sends: number, verified: number, refused = 0, solved = 0) => ({ sends, refused, solved, settledSends: sends, settledVerified: verified });

describe('conversion windows', () => {
  it('counts only buckets inside the window, and judges only those past the grace', () => {
    const buckets = [
      { bucket: T0 - 700_000, sends: 50, verified: 0, refused: 0, solved: 0 }, // left the window
      { bucket: T0, sends: 10, verified: 8, refused: 1, solved: 1 },
      // Begun before the grace's edge but not all of it past it: not settled yet.
      { bucket: T0 + 6 * width, sends: 4, verified: 1, refused: 2, solved: 0 },
    ];
    const now = T0 + 6 * width + policy.graceSeconds * 1000 + 5000;
    expect(windowTotals(buckets, policy, now)).toEqual({ sends: 14, refused: 3, solved: 1, settledSends: 10, settledVerified: 8 });
    // A minute later the second bucket is settled too.
    expect(windowTotals(buckets, policy, now + 60_000)).toEqual({ sends: 14, refused: 3, solved: 1, settledSends: 14, settledVerified: 9 });
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
    // Browsers asked for Turnstile that solved it and sent again are real users, not knocking.
    expect(judgeScope(true, totals(100, 70, 180, 90), policy)).toBe(false);
    expect(judgeScope(true, totals(100, 70, 180, 70), policy)).toBe(true);
    // Nothing left to judge and nobody knocking: it relaxes.
    expect(judgeScope(true, totals(3, 0), policy)).toBe(false);
  });

  it('holds a step-up for a window at least, whatever the window says meanwhile', () => {
    expect(judgeScope(true, totals(3, 0), policy, policy.windowSeconds * 1000 - 1)).toBe(true);
    expect(judgeScope(true, totals(100, 90), policy, policy.windowSeconds * 1000 - 1)).toBe(true);
    expect(judgeScope(true, totals(100, 90), policy, policy.windowSeconds * 1000)).toBe(false);
  });
});

describe('the scopes of a number', () => {
  it('names the ISO country, so +1 numbers of different countries are different scopes', () => {
    expect(scopesOf('+919876543210', 'app_x')).toEqual(['country:IN', 'app:app_x', 'all']);
    expect(countryScopeOf('+12025550123')).toBe('country:US');
    expect(countryScopeOf('+18762345678')).toBe('country:JM');
    expect(countryScopeOf('+447812345678')).toBe('country:GB');
    expect(countryScopeOf('+447911123456')).toBe('country:GG');
    // A number no country claims (the sandbox's fictional +1 555 ones) counts under its calling code.
    expect(countryScopeOf('+15555550100')).toBe('country:+1');
    // The country the destination check already found is taken as it is, without parsing again.
    expect(scopesOf('+15555550100', null, 'US')).toEqual(['country:US', 'all']);
    for (const scope of ['country:IN', 'country:+1', 'country:001', 'app:app_x', 'all']) expect(scope).toMatch(SCOPE_PATTERN);
  });
});

describe('the scope ledger', () => {
  const report = (scope: string, now: number, counts: Array<{ at: number; sends?: number; verified?: number; refused?: number }>) =>
    scopeLedgerFor(env).report({
      now,
      policy,
      counts: counts.map((c) => ({
        scope,
        bucket: bucketOf(c.at, policy.windowSeconds),
        sends: c.sends ?? 0,
        verified: c.verified ?? 0,
        refused: c.refused ?? 0,
      })),
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
    // Once the bad sends leave the window (and the step-up has held for a window), conversion is 90%: it relaxes by itself.
    const recovered = T0 + width + 61_000 + policy.windowSeconds * 1000;
    expect((await report(scope, recovered, [])).steppedUp).not.toContain(scope);
    const listed = await scopeLedgerFor(env).list({ now: recovered, policy });
    expect(listed.find((view) => view.scope === scope)).toMatchObject({ mode: 'normal', signal: 'normal', settledSends: 40, settledVerified: 36 });
  });

  it('sums reports in memory and writes them once per save, one row per scope and bucket; the window counts both', async () => {
    const scope = 'country:+996';
    const savedRows = () =>
      runInDurableObject(scopeLedgerFor(env), (_instance, state) =>
        state.storage.sql
          .exec<{ bucket: number; sends: number; verified: number }>('SELECT bucket, sends, verified FROM counts WHERE scope = ?', scope)
          .toArray(),
      );
    // Three isolates' reports into two buckets: nothing written yet, a save is scheduled.
    await report(scope, T0 + 1000, [{ at: T0, sends: 5, verified: 4 }]);
    await report(scope, T0 + 2000, [{ at: T0, sends: 3, verified: 3 }]);
    await report(scope, T0 + 3000, [{ at: T0 + width, sends: 2 }]);
    expect(await savedRows()).toEqual([]);
    const later = T0 + 2 * width + policy.graceSeconds * 1000;
    const view = async () => (await scopeLedgerFor(env).list({ now: later, policy })).find((listed) => listed.scope === scope);
    expect(await view()).toMatchObject({ sends: 10, settledSends: 10, settledVerified: 7 });

    expect(await runDurableObjectAlarm(scopeLedgerFor(env))).toBe(true);
    expect(await savedRows()).toEqual([
      { bucket: T0, sends: 8, verified: 7 },
      { bucket: T0 + width, sends: 2, verified: 0 },
    ]);
    // Saved counts are not counted twice; a later report adds to the saved row at the next save.
    expect(await view()).toMatchObject({ sends: 10, settledVerified: 7 });
    await report(scope, T0 + 4000, [{ at: T0, sends: 1, verified: 1 }]);
    expect(await view()).toMatchObject({ sends: 11, settledVerified: 8 });
    expect(await runDurableObjectAlarm(scopeLedgerFor(env))).toBe(true);
    expect((await savedRows())[0]).toEqual({ bucket: T0, sends: 9, verified: 8 });
    expect(await view()).toMatchObject({ sends: 11, settledVerified: 8 });
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

describe("an isolate's scope watch", () => {
  it('waits for the ledger only when cold, then reports its counts in one background batch per refresh', async () => {
    let now = T0;
    const watch = new ScopeWatch(() => now);
    const reports: ReportInput[] = [];
    let answer: string[] = ['country:+996'];
    const report = async (input: ReportInput) => {
      reports.push(input);
      return { steppedUp: answer };
    };
    const background: Array<Promise<unknown>> = [];
    const later = (work: Promise<unknown>) => background.push(work);

    expect(await watch.steppedUpScope(['country:+996', 'all'], report, policy, 5000, later)).toBe('country:+996');
    expect(reports).toHaveLength(1);
    watch.note('sends', ['country:+996', 'all'], now, policy.windowSeconds);
    watch.note('sends', ['country:+996', 'all'], now, policy.windowSeconds);
    watch.note('verified', ['country:+996', 'all'], now, policy.windowSeconds);
    now += 4000;
    answer = [];
    // Not due: the cached state answers and nothing is reported.
    expect(await watch.steppedUpScope(['country:+996'], report, policy, 5000, later)).toBe('country:+996');
    expect(background).toHaveLength(0);
    now += 1000;
    expect(await watch.steppedUpScope(['country:+996'], report, policy, 5000, later)).toBe('country:+996');
    expect(background).toHaveLength(1);
    await Promise.all(background);
    expect(reports[1]!.counts).toEqual([
      { scope: 'country:+996', bucket: T0, sends: 2, verified: 1, refused: 0, solved: 0 },
      { scope: 'all', bucket: T0, sends: 2, verified: 1, refused: 0, solved: 0 },
    ]);
    expect(await watch.steppedUpScope(['country:+996'], report, policy, 5000, later)).toBeNull();
  });

  it('keeps the counts of a failed report for the next one', async () => {
    let now = T0;
    const watch = new ScopeWatch(() => now);
    const reports: ReportInput[] = [];
    let fail = false;
    const report = async (input: ReportInput) => {
      if (fail) throw new Error('ledger down');
      reports.push(input);
      return { steppedUp: [] };
    };
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    await watch.steppedUpScope(['all'], report, policy, 1000);
    watch.note('refused', ['all'], now, policy.windowSeconds);
    fail = true;
    now += 1000;
    const background: Array<Promise<unknown>> = [];
    watch.refreshIfDue(report, policy, 1000, (work) => background.push(work));
    await Promise.all(background);
    fail = false;
    watch.note('refused', ['all'], now, policy.windowSeconds);
    now += 1000;
    watch.refreshIfDue(report, policy, 1000, (work) => background.push(work));
    await Promise.all(background);
    warn.mockRestore();
    expect(reports.at(-1)!.counts).toEqual([{ scope: 'all', bucket: T0, sends: 0, verified: 0, refused: 2, solved: 0 }]);
  });
});
