/**
 * Process and environment plumbing shared by the benchmarks: a snapshot of the tree to run
 * `wrangler dev` on, free ports, child processes that are always killed (with their workerd), a
 * keep-alive HTTP client, small statistics helpers and a description of the machine.
 *
 * Dependency-free on purpose (node: modules only), so `npm ci` is all a benchmark needs.
 */
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WRANGLER_JS = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const WRANGLER_BIN = existsSync(WRANGLER_JS) ? WRANGLER_JS : join(ROOT, 'node_modules', '.bin', 'wrangler');
// wrangler needs the Node the project pins, whatever Node started this script.
const PINNED_NODE = join(ROOT, 'node_modules', '.bin', 'node');
export const NODE = existsSync(PINNED_NODE) ? PINNED_NODE : process.execPath;

export const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

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
      for (const close of run.closers.reverse()) await Promise.resolve().then(close).catch(() => {});
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
  process.once('SIGINT', () => void run.bail('interrupted (SIGINT)', 130));
  process.once('SIGTERM', () => void run.bail('terminated (SIGTERM)', 143));
  process.on('uncaughtException', (error) => void run.bail(`uncaught: ${error?.stack ?? error}`));
  process.on('unhandledRejection', (error) => void run.bail(`unhandled rejection: ${error?.stack ?? error}`));
  if (overallTimeoutMs) {
    const timer = setTimeout(() => void run.bail(`${name}: overall timeout after ${Math.round(overallTimeoutMs / 1000)} s`), overallTimeoutMs);
    timer.unref();
  }

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

export async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  const signalGroup = (signal) => {
    try {
      process.kill(-child.pid, signal); // the child leads its own process group, workerd included
    } catch {
      try {
        child.kill(signal);
      } catch {
        /* already gone */
      }
    }
  };
  signalGroup('SIGTERM');
  const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
  if (!done) {
    signalGroup('SIGKILL');
    await Promise.race([exited, sleep(2000)]);
  }
  // wrangler may exit before its workerd does: make sure nothing of the group survives.
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* group empty */
  }
}

export function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.unref();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/**
 * Copies the project (sources, config, migrations, bench workers; not dependencies, VCS, docs or
 * local state) and links node_modules. wrangler dev watches its inputs and restarts on a change,
 * which would drop the local queue's delayed messages; a snapshot cannot change under it.
 */
export function snapshotProject(run) {
  const target = join(run.tmp, 'project');
  const skip = new Set(['node_modules', '.git', '.wrangler', 'dist', 'docs', '.ci']);
  mkdirSync(target, { recursive: true });
  for (const entry of readdirSync(ROOT)) {
    if (skip.has(entry) || entry.startsWith('.env') || entry.startsWith('.dev.vars') || entry.startsWith('.test-results')) continue;
    cpSync(join(ROOT, entry), join(target, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(target, 'node_modules'), 'dir');
  return target;
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

function childEnv() {
  return {
    ...process.env,
    PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
    WRANGLER_SEND_METRICS: 'false',
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    CI: '1',
  };
}

export function spawnWrangler(run, label, args, cwd) {
  const child = spawn(NODE, [WRANGLER_BIN, ...args], { cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  run.children.add(child);
  child.once('exit', () => run.children.delete(child));
  child.output = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      if (child.output.length < 1_000_000) child.output += chunk;
      run.log(label, chunk);
    });
  }
  return child;
}

/** Runs a wrangler command to completion; returns its output, throws on failure. */
export async function runWrangler(run, label, args, cwd, timeoutMs = 90_000) {
  const child = spawnWrangler(run, label, args, cwd);
  const code = await Promise.race([
    new Promise((done) => child.once('exit', (exitCode, signal) => done(exitCode ?? signal))),
    sleep(timeoutMs).then(() => 'timeout'),
  ]);
  if (code !== 0) {
    await stopChild(child);
    throw new Error(`${label} failed (${code})`);
  }
  return child.output;
}

export async function migrate(run, cwd, persistTo, config) {
  await runWrangler(run, 'migrate', ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistTo, ...(config ? ['-c', config] : [])], cwd);
}

/**
 * Starts `wrangler dev` and waits until `readyPath` answers 200. Request logging is turned down
 * (`--log-level warn`): at thousands of requests a second, printing a line per request in the
 * wrangler process would be measured along with the Worker.
 */
export async function startDev(run, { cwd, config, persistTo, vars = {}, label = 'dev', readyPath = '/healthz', logLevel = 'warn', extraArgs = [], readyTimeoutMs = 90_000 }) {
  const port = await freePort();
  const inspectorPort = await freePort();
  const args = [
    'dev',
    ...(config ? ['-c', config] : []),
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--inspector-port', String(inspectorPort),
    '--show-interactive-dev-session=false',
    '--log-level', logLevel,
    ...(persistTo ? ['--persist-to', persistTo] : []),
    ...Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${value}`]),
    ...extraArgs,
  ];
  const child = spawnWrangler(run, label, args, cwd);
  let exited = null;
  child.once('exit', (code, signal) => (exited = code ?? signal));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  for (let i = 0; i < 1000 && Date.now() < deadline; i += 1) {
    if (exited !== null) throw new Error(`${label}: wrangler dev exited (${exited}) before it was ready`);
    try {
      const answer = await fetch(`${base}${readyPath}`, { signal: AbortSignal.timeout(2000) });
      await answer.arrayBuffer();
      if (answer.status === 200) return { base, port, inspectorPort, child, label, stop: () => stopChild(child), pids: () => processTree(child.pid) };
    } catch {
      /* not listening yet */
    }
    await sleep(250);
  }
  throw new Error(`${label}: ${readyPath} did not answer 200 within ${readyTimeoutMs / 1000} s`);
}

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc: the local runtime's processes, for "where does the time go".

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** The pid and every descendant (wrangler, its workerd processes). */
export function processTree(rootPid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      /* gone */
    }
  }
  const out = [];
  const stack = [rootPid];
  while (stack.length && out.length < 1000) {
    const pid = stack.pop();
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** CPU milliseconds (user + system) used so far, by process name, over the given pids. */
export function cpuByName(pids) {
  const totals = {};
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
      totals[name] = (totals[name] ?? 0) + ms;
    } catch {
      /* gone */
    }
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

/** Runs `fn` over items with at most `limit` in flight. */
export async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  });
  await Promise.all(workers);
  return results;
}

// ---------------------------------------------------------------------------------------------
// Statistics

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function median(values) {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

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
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      let role = 'other';
      if (name === 'workerd') role = cmdline.includes(`entry=127.0.0.1:${dev.port}`) ? 'proxy' : 'runtime';
      else if (/node|MainThread/.test(name)) role = 'wrangler';
      totals[role] += ms;
    } catch {
      /* gone */
    }
  }
  return totals;
}

export function cpuDelta(before, after) {
  return Object.fromEntries(Object.keys(after).map((key) => [key, after[key] - (before[key] ?? 0)]));
}

/**
 * Whole-machine CPU from /proc/stat, in milliseconds busy and total across all cores. Sampled
 * around a measurement and compared with the benchmark's own processes, it shows how much of the
 * machine other work took meanwhile: on a shared machine that is the first suspect for noise.
 */
export function machineCpu() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3] + (fields[4] ?? 0);
    const total = fields.reduce((a, b) => a + b, 0);
    return { busyMs: ((total - idle) * 1000) / CLOCK_TICKS, totalMs: (total * 1000) / CLOCK_TICKS };
  } catch {
    return { busyMs: NaN, totalMs: NaN };
  }
}

/** CPU ms of every process in the given trees plus this process. */
export function ownCpuMs(rootPids) {
  let ms = selfCpuMs();
  for (const root of rootPids) {
    for (const pid of processTree(root)) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ms += ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
      } catch {
        /* gone */
      }
    }
  }
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
