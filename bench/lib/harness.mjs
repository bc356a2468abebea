/**
 * What the benchmarks share: a run (one temporary directory and every child process, cleaned up
 * whatever happens), `wrangler dev` on a snapshot of the tree with a derived config, CPU
 * accounting by role, a keep-alive HTTP client, formatting and a description of the machine. The
 * process and wrangler plumbing itself lives in scripts/lib, shared with the e2e scripts.
 *
 * Dependency-free on purpose (node: modules only), so `npm ci` is all a benchmark needs.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bailOnFatal, expectSuccess, machineCpu, processArgs, processStat, processTree, stopChild } from '../../scripts/lib/processes.mjs';
import { migrateArgs, NODE, ROOT, snapshotProject as snapshotInto, spawnWrangler as spawnInto, startWranglerDev } from '../../scripts/lib/wrangler.mjs';

export { mapLimit, sleep } from '../../scripts/lib/async.mjs';
// The helpers the scripts share, re-exported under the names the benchmarks import.
export { freePort, machineCpu, processTree, stopChild } from '../../scripts/lib/processes.mjs';
export { median, percentile } from '../../scripts/lib/stats.mjs';
export { NODE, ROOT } from '../../scripts/lib/wrangler.mjs';

// ---------------------------------------------------------------------------------------------
// A run: one temporary directory, every child process, cleaned up exactly once whatever happens.

export function createRun(name, { overallTimeoutMs, keepEnv = 'BENCH_KEEP_TMP' } = {}) {
  const run = {
    name,
    tmp: mkdtempSync(join(tmpdir(), `otpd-${name}-`)),
    children: new Set(),
    closers: [],
    recentLog: [],
    cleaning: null,
  };
  run.logPath = join(run.tmp, 'wrangler.log');
  run.logStream = createWriteStream(run.logPath);

  run.log = (label, text) => {
    const lines = text.split('\n').filter((line) => line.trim());
    for (const line of lines) {
      run.logStream.write(`[${label}] ${line}\n`);
      run.recentLog.push(`[${label}] ${line}`);
    }
    if (run.recentLog.length > 400) run.recentLog.splice(0, run.recentLog.length - 200);
  };

  run.printLogTail = (count = 40) => {
    const tail = run.recentLog.slice(-count);
    if (tail.length === 0) return;
    console.error(`--- last ${tail.length} lines of child output (full log: ${run.logPath}) ---`);
    for (const line of tail) console.error(line);
    console.error('--- end ---');
  };

  run.cleanup = () => {
    run.cleaning ??= (async () => {
      await Promise.allSettled([...run.children].map(stopChild));
      run.children.clear();
      for (const close of run.closers.reverse())
        await Promise.resolve()
          .then(close)
          .catch(() => {});
      await new Promise((done) => run.logStream.end(done));
      if (process.env[keepEnv] === '1') console.error(`kept ${run.tmp}`);
      else rmSync(run.tmp, { recursive: true, force: true, maxRetries: 3 });
    })();
    return run.cleaning;
  };

  let exiting = false;
  run.bail = async (message, code = 1) => {
    if (exiting) return;
    exiting = true;
    console.error(message);
    if (code === 1) run.printLogTail();
    await run.cleanup();
    process.exit(code);
  };
  bailOnFatal(run.bail, { overallTimeoutMs, label: name });

  /** Runs `main` and always cleans up; exits with main's result (a number) or 1 on error. */
  run.main = async (main) => {
    let code = 1;
    try {
      code = (await main()) ?? 0;
    } catch (error) {
      console.error(`${name}: ${error?.stack ?? error}`);
      run.printLogTail();
      code = 1;
    }
    if (exiting) return;
    exiting = true;
    await run.cleanup();
    process.exit(code);
  };
  return run;
}

/**
 * A directory for a dev server's local D1, queue and Durable Object state. On tmpfs when the
 * machine has one: the local runtime keeps one SQLite file per object and syncs it to disk, and
 * a benchmark that creates thousands of objects would otherwise measure this machine's disk.
 */
export function stateDir(run, name = 'state') {
  let dir;
  try {
    dir = mkdtempSync(join('/dev/shm', `otpd-${run.name}-${name}-`));
  } catch {
    dir = mkdtempSync(join(run.tmp, `${name}-`));
  }
  run.closers.push(() => rmSync(dir, { recursive: true, force: true, maxRetries: 3 }));
  return dir;
}

/** The project snapshot a benchmark runs on: with the bench workers, without docs and CI files. */
export function snapshotProject(run) {
  return snapshotInto(join(run.tmp, 'project'), { skip: ['docs', '.ci'], skipPrefixes: ['.test-results'] });
}

/**
 * The tree of an earlier commit, for measuring a change against the code before it in the same
 * run: extracted with `git archive` (the committed files only), its node_modules the project's own
 * (a commit whose dependencies differ from today's cannot be measured this way; its dev server
 * would fail to start and say so).
 */
export function snapshotCommit(run, rev, name) {
  const commit = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', `${rev}^{commit}`], { encoding: 'utf8' }).trim();
  const subject = execFileSync('git', ['-C', ROOT, 'log', '-1', '--format=%s', commit], { encoding: 'utf8' }).trim();
  const dir = join(run.tmp, name);
  mkdirSync(dir, { recursive: true });
  const archive = execFileSync('git', ['-C', ROOT, 'archive', '--format=tar', commit], { maxBuffer: 512 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return { dir, commit, subject };
}

/**
 * Writes a wrangler config for a benchmark into the snapshot, derived from the project's own
 * `wrangler.toml` (its local, top-level environment) so that bindings, queues, Durable Object
 * classes and vars can never drift from what `npm run dev` runs. `main` may point at a bench-only
 * entry module; `dropConsumers` detaches the queue consumers (the API path alone: in production
 * consumer invocations run apart from the API's); `edit` may change anything else, visibly, for a
 * what-if measurement. Returns the config's file name.
 */
export function deriveConfig(project, { file, main, dropConsumers = false, edit = (text) => text }) {
  let text = readFileSync(join(project, 'wrangler.toml'), 'utf8');
  const production = text.indexOf('\n[env.production]');
  if (production >= 0) text = text.slice(0, production + 1);
  if (main) text = text.replace(/^main = ".*"$/m, `main = "${main}"`);
  if (dropConsumers) text = text.replace(/\[\[queues\.consumers\]\][\s\S]*?(?=\n\[)/g, '');
  text = edit(text);
  writeFileSync(join(project, file), `# Generated by bench/lib/harness.mjs from wrangler.toml for one benchmark run.\n${text}`);
  return file;
}

export function spawnWrangler(run, label, args, cwd) {
  const child = spawnInto(args, {
    cwd,
    children: run.children,
    onOutput: (chunk) => {
      if (child.output.length < 1_000_000) child.output += chunk;
      run.log(label, chunk);
    },
  });
  child.output = ''; // before any output: that arrives on a later turn of the event loop
  return child;
}

/** Runs a wrangler command to completion; returns its output, throws on failure. */
export async function runWrangler(run, label, args, cwd, timeoutMs = 90_000) {
  const child = spawnWrangler(run, label, args, cwd);
  await expectSuccess(child, label, timeoutMs);
  return child.output;
}

export async function migrate(run, cwd, persistTo, config) {
  await runWrangler(run, 'migrate', migrateArgs(persistTo, config), cwd);
}

/**
 * Starts `wrangler dev` and waits until `readyPath` answers 200. Request logging is turned down
 * (`--log-level warn`): at thousands of requests a second, printing a line per request in the
 * wrangler process would be measured along with the Worker.
 */
export async function startDev(
  run,
  { cwd, config, persistTo, vars = {}, label = 'dev', readyPath = '/healthz', logLevel = 'warn', extraArgs = [], readyTimeoutMs = 90_000 },
) {
  const { base, port, inspectorPort, child } = await startWranglerDev((args) => spawnWrangler(run, label, args, cwd), {
    label,
    config,
    persistTo,
    vars,
    logLevel,
    extraArgs,
    readyPath,
    readyTimeoutMs,
  });
  return { base, port, inspectorPort, child, label, stop: () => stopChild(child), pids: () => processTree(child.pid) };
}

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc: the local runtime's processes, for "where does the time go".

/** CPU milliseconds (user + system) used so far, by process name, over the given pids. */
export function cpuByName(pids) {
  const totals = {};
  for (const pid of pids) {
    const stat = processStat(pid);
    if (stat) totals[stat.name] = (totals[stat.name] ?? 0) + stat.cpuMs;
  }
  return totals;
}

export function selfCpuMs() {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

// ---------------------------------------------------------------------------------------------
// HTTP with keep-alive sockets, cheaper per request than fetch when the client shares the CPU.

export function keepAliveAgent(maxSockets = 64) {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

const defaultAgent = keepAliveAgent(256);

/** One request; resolves { status, headers, text, json } (json undefined when not JSON). */
export function request(method, url, { body, headers = {}, agent = defaultAgent, timeoutMs = 30_000 } = {}) {
  return new Promise((done, fail) => {
    const target = new URL(url);
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(
      {
        method,
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        agent,
        headers: {
          ...(payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }),
          ...headers,
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          done({ status: res.statusCode, headers: res.headers, text, json });
        });
        res.on('error', fail);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${url}`)));
    req.on('error', fail);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// Formatting

export const fmt = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
export const fmtInt = (value) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a');

// ---------------------------------------------------------------------------------------------
// The machine and the versions, for the report

export function machineInfo() {
  const version = (pkg) => {
    try {
      return JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
    } catch {
      return 'unknown';
    }
  };
  let nodeVersion = process.version;
  try {
    nodeVersion = execFileSync(NODE, ['--version']).toString().trim();
  } catch {
    /* keep the current one */
  }
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown';
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: nodeVersion,
    wrangler: version('wrangler'),
    workerd: version('workerd'),
    miniflare: version('miniflare'),
  };
}

/** Parses `--name value` / `--name=value` / `--flag` arguments against defaults. */
export function parseArgs(argv, defaults) {
  const options = { ...defaults };
  for (let index = 0; index < argv.length; index += 1) {
    let arg = argv[index];
    let value;
    if (arg.includes('=')) [arg, value] = [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)];
    const name = arg.replace(/^--/, '').replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());
    if (!arg.startsWith('--') || !(name in defaults)) throw new Error(`unknown argument: ${arg}`);
    if (typeof defaults[name] === 'boolean') options[name] = value === undefined ? true : value !== 'false';
    else {
      value ??= argv[++index];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      options[name] = typeof defaults[name] === 'number' ? Number(value) : value;
      if (typeof defaults[name] === 'number' && !Number.isFinite(options[name])) throw new Error(`${arg}: not a number: ${value}`);
    }
  }
  return options;
}

/**
 * CPU milliseconds used so far by a dev server's processes, by role: the wrangler CLI (node),
 * the dev proxy (the workerd process that owns the public port and forwards every request) and
 * the runtime (the workerd process that runs the Worker, its Durable Objects, local D1 and
 * queues).
 */
export function cpuByRole(dev) {
  const totals = { wrangler: 0, proxy: 0, runtime: 0, other: 0 };
  for (const pid of processTree(dev.child.pid)) {
    const stat = processStat(pid);
    if (!stat) continue; // gone
    let role = 'other';
    if (stat.name === 'workerd') role = processArgs(pid).includes(`entry=127.0.0.1:${dev.port}`) ? 'proxy' : 'runtime';
    else if (/node|MainThread/.test(stat.name)) role = 'wrangler';
    totals[role] += stat.cpuMs;
  }
  return totals;
}

export function cpuDelta(before, after) {
  return Object.fromEntries(Object.keys(after).map((key) => [key, after[key] - (before[key] ?? 0)]));
}

/** CPU ms of every process in the given trees plus this process. */
export function ownCpuMs(rootPids) {
  let ms = selfCpuMs();
  for (const root of rootPids) for (const pid of processTree(root)) ms += processStat(pid)?.cpuMs ?? 0;
  return ms;
}

/** Starts a sample; `end()` returns the share of the machine's CPU used by other processes. */
export function foreignLoad(rootPids) {
  const machine = machineCpu();
  const own = ownCpuMs(rootPids);
  return {
    end() {
      const machineAfter = machineCpu();
      const ownAfter = ownCpuMs(rootPids);
      const total = machineAfter.totalMs - machine.totalMs;
      const busy = machineAfter.busyMs - machine.busyMs;
      return { machineBusy: busy / total, foreign: Math.max(0, busy - (ownAfter - own)) / total };
    },
  };
}
