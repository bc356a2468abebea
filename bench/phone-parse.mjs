#!/usr/bin/env node
/**
 * Phone-number validation benchmark: `npm run bench:phone`.
 *
 * What libphonenumber (src/phone-check.ts, `max` metadata) costs the Worker: CPU per
 * `checkDestination` call, the one every `POST /v1/otp` makes before any limit (a mix of the
 * numbers the service sees: Indian, US, UK and Jamaican mobiles, landlines, premium and invalid
 * numbers); the first call's cost (the metadata is read on first use in each isolate); and the
 * bytes it adds to the deployed bundle: the check bundled alone as wrangler bundles (esbuild, not
 * minified), raw and gzipped, next to the whole Worker's bundle from `wrangler deploy --dry-run`.
 * V8 in Node, which is also the Workers runtime's engine; no wrangler dev server is started.
 *
 * Options: --calls 100000 --runs 5 --json <file>
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { fmt, median, NODE, parseArgs, ROOT } from './lib/harness.mjs';

const options = parseArgs(process.argv.slice(2), { calls: 100_000, runs: 5, json: '' });
const started = Date.now();

const NUMBERS = [
  '+919876543210', // IN mobile
  '+14155552671', // US, fixed line or mobile
  '+447400123456', // GB mobile
  '+18765551234', // JM mobile (+1, another country)
  '+911123456789', // IN landline: refused
  '+19005551234', // US premium: refused
  '+15550100000', // unassigned: refused
  '+9112345', // impossible: refused
];
const POLICY = { allowedCountries: ['IN', 'US', 'GB'], blockedCountries: [], allowedNumberTypes: [] };

/**
 * CPU in a fresh process for evaluating the bundled check (the Worker's script startup pays the
 * same once per isolate) and for its first call (the metadata's patterns are compiled on first use).
 */
function coldStart(bundlePath) {
  const script = `
    const t0 = process.cpuUsage();
    const { checkDestination } = await import(${JSON.stringify(bundlePath)});
    const t1 = process.cpuUsage();
    checkDestination('+919876543210', { allowedCountries: null, blockedCountries: [], allowedNumberTypes: [] });
    const t2 = process.cpuUsage();
    const us = (a, b) => b.user + b.system - a.user - a.system;
    console.log(JSON.stringify({ loadUs: us(t0, t1), firstCallUs: us(t1, t2) }));`;
  return JSON.parse(execFileSync(NODE, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' }));
}

async function warmCalls() {
  const { checkDestination } = await import(join(ROOT, 'src/phone-check.ts'));
  for (let i = 0; i < 20_000; i += 1) checkDestination(NUMBERS[i % NUMBERS.length], POLICY);
  const runs = [];
  for (let run = 0; run < options.runs; run += 1) {
    const before = process.cpuUsage();
    let allowed = 0;
    for (let i = 0; i < options.calls; i += 1) if (checkDestination(NUMBERS[i % NUMBERS.length], POLICY).allowed) allowed += 1;
    const used = process.cpuUsage(before);
    runs.push({ usPerCall: (used.user + used.system) / options.calls, allowed });
  }
  return { usPerCall: median(runs.map((run) => run.usPerCall)), runs };
}

/** The check bundled alone as wrangler bundles the Worker (ESM, not minified), and the whole Worker's bundle. */
async function bundles(dir) {
  const bundlePath = join(dir, 'phone-check.mjs');
  await build({ entryPoints: [join(ROOT, 'src/phone-check.ts')], bundle: true, format: 'esm', platform: 'neutral', outfile: bundlePath, logLevel: 'error' });
  const check = readFileSync(bundlePath);
  const workerDir = join(dir, 'worker');
  execFileSync(NODE, [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--env', 'production', '--outdir', workerDir], {
    cwd: ROOT,
    stdio: 'ignore',
  });
  const worker = readdirSync(workerDir)
    .filter((name) => name.endsWith('.js'))
    .map((name) => readFileSync(join(workerDir, name)));
  const sizes = {
    checkBytes: check.length,
    checkGzipBytes: gzipSync(check).length,
    workerBytes: worker.reduce((sum, file) => sum + file.length, 0),
    workerGzipBytes: worker.reduce((sum, file) => sum + gzipSync(file).length, 0),
  };
  return { bundlePath, sizes };
}

const dir = mkdtempSync(join(os.tmpdir(), 'otpd-bench-phone-'));
let result;
try {
  const { bundlePath, sizes } = await bundles(dir);
  const samples = Array.from({ length: 3 }, () => coldStart(bundlePath));
  const cold = { loadUs: median(samples.map((sample) => sample.loadUs)), firstCallUs: median(samples.map((sample) => sample.firstCallUs)) };
  const warm = await warmCalls();
  result = { options, seconds: (Date.now() - started) / 1000, numbers: NUMBERS, warm, cold, bundle: sizes };
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`checkDestination: ${fmt(result.warm.usPerCall, 2)} µs CPU per call (median of ${options.runs} x ${options.calls})`);
console.log(
  `a fresh isolate: ${fmt(result.cold.loadUs / 1000, 1)} ms to evaluate the bundled check, ${fmt(result.cold.firstCallUs / 1000, 1)} ms for its first call`,
);
console.log(
  `bundle: the check alone ${fmt(result.bundle.checkBytes / 1024, 0)} KiB (${fmt(result.bundle.checkGzipBytes / 1024, 0)} KiB gzipped); the Worker ${fmt(result.bundle.workerBytes / 1024, 0)} KiB (${fmt(result.bundle.workerGzipBytes / 1024, 0)} KiB gzipped)`,
);
if (options.json) writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
