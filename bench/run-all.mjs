#!/usr/bin/env node
/**
 * `npm run bench`: runs every benchmark (API path, dispatch path, limiter, cost per OTP, phone validation, failover) one
 * after another, each in its own process with its own dev servers, and writes docs/benchmarks.md
 * from their results: the machine, the versions, the command, the tables, each target met or
 * missed (and by how much), and why. The wording is bench/benchmarks.md.tmpl; the figures come
 * from bench/lib/benchmarks-doc.mjs.
 *
 * Never part of `npm test`: a timing is not a test. Options: --only api,dispatch,limiter,cost,phone,failover
 * --out docs/benchmarks.md --keep-json <dir> (keep each benchmark's JSON there) --from-json <dir>
 * (render from JSON kept earlier, running nothing) --check (with --from-json: fail if --out is not
 * what the template renders, writing nothing).
 *
 * bench/last-run holds the JSON behind the committed docs/benchmarks.md, so a wording change is
 * `npm run bench -- --from-json bench/last-run`; CI runs the same with --check. A new run that
 * should replace the document keeps its JSON there: `npm run bench -- --keep-json bench/last-run`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { ALL_BENCHMARKS, renderBenchmarksDoc } from './lib/benchmarks-doc.mjs';
import { fmt, machineInfo, NODE, parseArgs, ROOT } from './lib/harness.mjs';

const options = parseArgs(process.argv.slice(2), { only: ALL_BENCHMARKS, out: 'docs/benchmarks.md', keepJson: '', fromJson: '', check: false });
const BENCHMARKS = [
  // Measured next to the code before issue 16's request-path work (docs/benchmarks.md, section 1).
  { key: 'api', script: 'bench/api-path.mjs', args: ['--before', 'd4db991'], timeoutMs: 40 * 60_000 },
  { key: 'dispatch', script: 'bench/dispatch.mjs', timeoutMs: 40 * 60_000 },
  { key: 'limiter', script: 'bench/limiter.mjs', timeoutMs: 20 * 60_000 },
  { key: 'cost', script: 'bench/cost.mjs', timeoutMs: 20 * 60_000 },
  { key: 'phone', script: 'bench/phone-parse.mjs', timeoutMs: 5 * 60_000 },
  { key: 'failover', script: 'bench/failover.mjs', timeoutMs: 15 * 60_000 },
].filter((bench) => options.only.split(',').includes(bench.key));
if (options.check && !options.fromJson) throw new Error('--check compares a rendering of kept JSON with --out: it needs --from-json');

const jsonDir = options.fromJson || options.keepJson || mkdtempSync(join(os.tmpdir(), 'otpd-bench-json-'));
mkdirSync(jsonDir, { recursive: true });

let current = null;
const stop = (signal) => {
  // Each benchmark cleans up its own servers when told to stop.
  if (current) current.kill(signal);
  process.exitCode = 130;
};
process.once('SIGINT', () => stop('SIGINT'));
process.once('SIGTERM', () => stop('SIGTERM'));

function runBenchmark(bench) {
  return new Promise((done) => {
    const jsonPath = join(jsonDir, `${bench.key}.json`);
    const started = Date.now();
    const child = spawn(NODE, [join(ROOT, bench.script), ...(bench.args ?? []), '--json', jsonPath], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    current = child;
    // The benchmark's own lines go through; wrangler's are in its log.
    child.stdout.on('data', (chunk) => process.stdout.write(chunk));
    child.stderr.on('data', (chunk) => process.stderr.write(chunk));
    const timer = setTimeout(() => child.kill('SIGTERM'), bench.timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      current = null;
      let result = null;
      try {
        result = JSON.parse(readFileSync(jsonPath, 'utf8'));
      } catch {
        /* failed before writing */
      }
      done({ code, result, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const startedAt = Date.now();
// Rendering from kept JSON reuses the run's own record of the machine and its load.
const recorded = options.fromJson ? JSON.parse(readFileSync(join(options.fromJson, 'run.json'), 'utf8')) : null;
const machine = recorded?.machine ?? machineInfo();
const loadBefore = recorded?.loadBefore ?? os.loadavg();
const code = recorded?.code ?? measuredCode();
const outcomes = {};
for (const bench of BENCHMARKS) {
  if (options.fromJson) {
    outcomes[bench.key] = { code: 0, result: JSON.parse(readFileSync(join(options.fromJson, `${bench.key}.json`), 'utf8')), seconds: NaN };
    outcomes[bench.key].seconds = outcomes[bench.key].result.seconds;
    continue;
  }
  console.log(`\n=== ${bench.script}`);
  outcomes[bench.key] = await runBenchmark(bench);
  if (process.exitCode === 130) break;
}
const loadAfter = recorded?.loadAfter ?? os.loadavg();
const totalSeconds = recorded?.totalSeconds ?? (Date.now() - startedAt) / 1000;
if (!recorded) writeFileSync(join(jsonDir, 'run.json'), `${JSON.stringify({ machine, code, loadBefore, loadAfter, totalSeconds }, null, 2)}\n`);

/** The commit every benchmark's snapshot was taken from, and whether the tree differed from it. */
function measuredCode() {
  try {
    const git = (...args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    const changed = git('status', '--porcelain', '--', 'src', 'migrations', 'bench', 'scripts', 'wrangler.toml', 'package.json');
    return { commit: git('rev-parse', '--short', 'HEAD'), changed: changed.length > 0 };
  } catch {
    return null;
  }
}

// The prose is bench/benchmarks.md.tmpl; bench/lib/benchmarks-doc.mjs fills in the figures.
const doc = renderBenchmarksDoc({ outcomes, machine, loadBefore, loadAfter, totalSeconds, code, only: options.only });
if (options.check) process.exit(checkRendered(join(ROOT, options.out), doc));
writeFileSync(join(ROOT, options.out), doc);
console.log(`\nwrote ${options.out} (${fmt(totalSeconds / 60, 1)} min in all)`);
if (!options.keepJson && !options.fromJson) rmSync(jsonDir, { recursive: true, force: true });
const crashed = Object.values(outcomes).some((outcome) => outcome.code !== 0 || !outcome.result);
process.exit(process.exitCode === 130 ? 130 : crashed ? 1 : 0);

/** 0 when `path` holds exactly `doc`; otherwise says where they part and returns 1. */
function checkRendered(path, doc) {
  const current = readFileSync(path, 'utf8');
  if (current === doc) {
    console.log(`${options.out} is what bench/benchmarks.md.tmpl renders from ${options.fromJson}`);
    return 0;
  }
  const [have, want] = [current.split('\n'), doc.split('\n')];
  const line = have.findIndex((text, index) => text !== want[index]);
  const at = line === -1 ? Math.min(have.length, want.length) : line;
  console.error(`${options.out} differs from what bench/benchmarks.md.tmpl renders from ${options.fromJson}, first at line ${at + 1}:`);
  console.error(`  file:     ${have[at] ?? '(end of file)'}`);
  console.error(`  rendered: ${want[at] ?? '(end of file)'}`);
  console.error(`Re-render it: npm run bench -- --from-json ${options.fromJson}`);
  return 1;
}
