/**
 * What the end-to-end scripts share: `wrangler dev` on a snapshot of the working tree with a
 * throwaway `--persist-to` directory, started and stopped as one process group, plus small
 * HTTP and concurrency helpers. Used by e2e-faults.mjs and soak.mjs.
 */
import { spawn } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WRANGLER_JS = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const WRANGLER_BIN = existsSync(WRANGLER_JS) ? WRANGLER_JS : join(ROOT, 'node_modules', '.bin', 'wrangler');
// wrangler needs the Node the project pins as a devDependency, even when this script was started
// with an older system Node.
const PINNED_NODE = join(ROOT, 'node_modules', '.bin', 'node');
const NODE = existsSync(PINNED_NODE) ? PINNED_NODE : process.execPath;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function intEnv(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer from ${min} to ${max}`);
  return value;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Runs `fn` over items with at most `limit` in flight; results keep the input order. */
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

/** One HTTP call with a hard timeout; the body is parsed as JSON when it is JSON. */
export async function http(method, url, { body, headers = {}, rawBody, timeoutMs = 10_000 } = {}) {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'Content-Type': 'application/json', ...headers },
    body: rawBody ?? (body === undefined ? undefined : JSON.stringify(body)),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text, headers: response.headers };
}

/** Copies the project (without dependencies, VCS, build output and local state) and links node_modules. */
function snapshotProject(target) {
  const skip = new Set(['node_modules', '.git', '.wrangler', 'dist', 'bench']);
  mkdirSync(target, { recursive: true });
  for (const entry of readdirSync(ROOT)) {
    if (skip.has(entry) || entry.startsWith('.env') || entry.startsWith('.dev.vars')) continue;
    cpSync(join(ROOT, entry), join(target, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(target, 'node_modules'), 'dir');
  return target;
}

function writeProject(target, files) {
  mkdirSync(target, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(target, name), text);
  return target;
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

export async function stopChild(child) {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
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
  }
  // wrangler may exit before its workerd does: make sure nothing of the group survives.
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* group empty */
  }
}

/**
 * A temporary directory holding the project snapshot, the D1/queue/DO state and the wrangler log.
 * `vars` are `--var NAME:VALUE` pairs. Call `start()`, then always `stop()` (idempotent).
 */
export function createDevStack({ label = 'otpd', vars = [], keepTmp = false, files = null } = {}) {
  const tmp = mkdtempSync(join(tmpdir(), `${label}-`));
  const logPath = join(tmp, 'wrangler.log');
  const logStream = createWriteStream(logPath);
  const persistTo = join(tmp, 'state');
  // wrangler dev rebuilds and restarts whenever a watched file changes, and a restart loses the
  // local queue's in-flight and delayed messages: run a snapshot so edits during a run cannot.
  // `files` ({ name: text }) runs a throwaway project instead, with no D1 to migrate.
  const project = files ? writeProject(join(tmp, 'project'), files) : snapshotProject(join(tmp, 'project'));
  const children = new Set();
  const recentLog = [];
  let wrangler = null;
  let exit = null;
  let stopping = null;

  function logLine(text) {
    logStream.write(text.endsWith('\n') ? text : `${text}\n`);
    for (const line of text.split('\n')) if (line.trim()) recentLog.push(line);
    if (recentLog.length > 400) recentLog.splice(0, recentLog.length - 200);
  }

  function spawnLogged(name, args) {
    const child = spawn(NODE, [WRANGLER_BIN, ...args], { cwd: project, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(child);
    child.once('exit', () => children.delete(child));
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => logLine(chunk.split('\n').map((line) => (line ? `[${name}] ${line}` : line)).join('\n')));
    }
    return child;
  }

  async function run(name, args, timeoutMs) {
    const child = spawnLogged(name, args);
    const code = await Promise.race([
      new Promise((resolve) => child.once('exit', (exitCode, signal) => resolve(exitCode ?? signal))),
      sleep(timeoutMs).then(() => 'timeout'),
    ]);
    if (code !== 0) {
      await stopChild(child);
      throw new Error(`${name} failed (${code}); see the log tail`);
    }
  }

  const stack = {
    tmp,
    logPath,
    base: null,
    get exit() {
      return exit;
    },
    get pid() {
      return wrangler?.pid ?? null;
    },
    /** Applies the migrations, starts wrangler dev and waits until /healthz answers 200. */
    async start({ migrateTimeoutMs = 60_000, healthTimeoutMs = 60_000, healthPath = '/healthz' } = {}) {
      if (!files) await run('migrate', ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistTo], migrateTimeoutMs);
      const port = await freePort();
      const inspectorPort = await freePort();
      stack.base = `http://127.0.0.1:${port}`;
      wrangler = spawnLogged('wrangler', [
        'dev',
        '--ip', '127.0.0.1',
        '--port', String(port),
        '--inspector-port', String(inspectorPort),
        '--persist-to', persistTo,
        '--show-interactive-dev-session=false',
        ...vars.flatMap((pair) => ['--var', pair]),
      ]);
      wrangler.once('exit', (code, signal) => (exit = code ?? signal));
      const deadline = Date.now() + healthTimeoutMs;
      for (let i = 0; i < 1000 && Date.now() < deadline && exit === null; i += 1) {
        try {
          const answer = await http('GET', `${stack.base}${healthPath}`, { timeoutMs: 2000 });
          if (answer.status === 200) return answer.json;
        } catch {
          /* not listening yet */
        }
        await sleep(250);
      }
      throw new Error(exit !== null ? `wrangler dev exited (${exit}) before /healthz answered` : `/healthz did not answer within ${healthTimeoutMs / 1000} s`);
    },
    logTail(lines = 60) {
      return recentLog.slice(-lines);
    },
    /** Stops every process started here and removes the temporary directory (unless kept). */
    stop() {
      stopping ??= (async () => {
        await Promise.allSettled([...children].map(stopChild));
        children.clear();
        await new Promise((resolve) => logStream.end(resolve));
        if (keepTmp) console.log(`kept ${tmp}`);
        else rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
      })();
      return stopping;
    },
  };
  return stack;
}

/** `pid` and every process below it (from `ps`), each with its command name, arguments and RSS in KiB. */
export async function processTree(pid) {
  const { execFile } = await import('node:child_process');
  const text = await new Promise((resolve) =>
    execFile('ps', ['-eo', 'pid=,ppid=,rss=,comm=,args='], { timeout: 5000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout) => resolve(error ? '' : stdout)),
  );
  const rows = text
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((parts) => parts.length >= 5)
    .map(([p, pp, rss, comm, ...args]) => ({ pid: Number(p), ppid: Number(pp), rssKb: Number(rss), comm, args: args.join(' ') }));
  const root = rows.find((row) => row.pid === pid) ?? null;
  const below = [];
  const frontier = [pid];
  for (let guard = 0; frontier.length > 0 && guard < 10_000; guard += 1) {
    const parent = frontier.shift();
    for (const row of rows) {
      if (row.ppid === parent) {
        below.push(row);
        frontier.push(row.pid);
      }
    }
  }
  return { root, descendants: below };
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}
