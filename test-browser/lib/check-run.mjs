/**
 * What the browser tests share: where Chromium is and how it starts, and a run of named checks
 * that prints `ok`/`FAIL` per check and one closing line `N passed, M failed` (also written as
 * JSON to $BROWSER_RESULTS_FILE when set, for the CI summary), with an overall deadline and
 * clean-up on a signal, so a hung browser or server never hangs CI.
 */
import { writeFileSync } from 'node:fs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** A run of checks; `cleanup` stops what the test started (browser, servers). */
export function checkRun({ timeoutMs, cleanup }) {
  const results = [];

  function finish() {
    const passed = results.filter(Boolean).length;
    const failed = results.length - passed;
    console.log(`${passed} passed, ${failed} failed`);
    if (process.env.BROWSER_RESULTS_FILE) writeFileSync(process.env.BROWSER_RESULTS_FILE, JSON.stringify({ passed, failed }));
    process.exit(failed || results.length === 0 ? 1 : 0);
  }

  const overall = setTimeout(async () => {
    console.log(`FAIL  overall timeout after ${timeoutMs / 1000} s`);
    results.push(false);
    await cleanup();
    finish();
  }, timeoutMs);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, async () => {
      await cleanup();
      process.exit(1);
    });
  }

  return {
    /** Runs one named check; a failure is printed (its first lines) and counted, and the run goes on. */
    async check(name, fn) {
      try {
        await fn();
        results.push(true);
        console.log(`ok    ${name}`);
      } catch (error) {
        results.push(false);
        console.log(
          `FAIL  ${name}\n      ${String(error?.message ?? error)
            .split('\n')
            .slice(0, 6)
            .join('\n      ')}`,
        );
      }
    },
    /** Counts a failure outside any check (set-up). */
    fail(message) {
      results.push(false);
      console.log(`FAIL  ${message}`);
    },
    /** Stops everything and exits with the run's verdict. */
    async end() {
      clearTimeout(overall);
      await cleanup();
      finish();
    },
  };
}
