/**
 * `wrangler dev` for the end-to-end scripts and the browser test: a temporary directory holding a
 * snapshot of the working tree, a throwaway `--persist-to` state directory and the wrangler log;
 * wrangler started and stopped as one process group. Used by e2e-flaky-provider.mjs,
 * e2e-faults.mjs, soak.mjs and test-browser/dashboard.spec.mjs.
 */
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseJson } from './http.mjs';
import { expectSuccess, stopChild } from './processes.mjs';
import { migrateArgs, snapshotProject, spawnWrangler, startWranglerDev } from './wrangler.mjs';

function writeProject(target, files) {
  mkdirSync(target, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(target, name), text);
  return target;
}

/**
 * `vars` are 'NAME:VALUE' pairs or { NAME: value }. wrangler dev runs on a snapshot of the tree
 * (see snapshotProject), or on `files` ({ name: text }, a throwaway project with no D1 to
 * migrate), or in `cwd` as it is (`migrate: false` for a Worker there with no D1, such as the
 * example app; `localSecrets: false` not to give it the service's local secrets). Call `start()`,
 * then always `stop()` (idempotent). `kill()` ends wrangler dev and its runtime as a crash would;
 * `start()` then brings them back on the same state.
 */
export function createDevStack({ label = 'otpd', vars = [], keepTmp = false, files = null, cwd = null, migrate = true, localSecrets = true } = {}) {
  const tmp = mkdtempSync(join(tmpdir(), `${label}-`));
  const logPath = join(tmp, 'wrangler.log');
  const logStream = createWriteStream(logPath);
  const persistTo = join(tmp, 'state');
  // The bench workers are no part of what these scripts run.
  const project = cwd ?? (files ? writeProject(join(tmp, 'project'), files) : snapshotProject(join(tmp, 'project'), { skip: ['bench'] }));
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

  const spawnLogged = (name, args) =>
    spawnWrangler(args, {
      cwd: project,
      children,
      onOutput: (chunk) =>
        logLine(
          chunk
            .split('\n')
            .map((line) => (line ? `[${name}] ${line}` : line))
            .join('\n'),
        ),
    });

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
    /** Applies the migrations, starts wrangler dev (on `port`, else a free one) and resolves the JSON of the first 200 from `healthPath`. */
    async start({ migrateTimeoutMs = 60_000, healthTimeoutMs = 60_000, healthPath = '/healthz', port } = {}) {
      exit = null;
      if (!files && migrate) await expectSuccess(spawnLogged('migrate', migrateArgs(persistTo)), 'migrate', migrateTimeoutMs);
      const dev = await startWranglerDev(
        (args) => {
          wrangler = spawnLogged('wrangler', args);
          wrangler.once('exit', (code, signal) => (exit = code ?? signal));
          return wrangler;
        },
        { label, persistTo, vars, localSecrets, port, readyPath: healthPath, readyTimeoutMs: healthTimeoutMs },
      );
      stack.base = dev.base;
      return parseJson(dev.body);
    },
    /** Runs one SQL statement on the local D1 database (`wrangler d1 execute --local`), as an operator might. */
    async d1(sql, { timeoutMs = 60_000 } = {}) {
      if (files) throw new Error('d1: this stack has no D1 database');
      await expectSuccess(spawnLogged('d1', ['d1', 'execute', 'DB', '--local', '--persist-to', persistTo, '--command', sql]), 'd1 execute', timeoutMs);
    },
    /**
     * SIGKILL to wrangler dev's process group (wrangler and its workerd runtime) at once: nothing
     * gets to finish or flush. The state directory stays: D1 and Durable Object storage survive, as
     * they would on Cloudflare; the local queue's messages do not.
     */
    async kill() {
      const child = wrangler;
      stack.base = null;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      await exited;
    },
    logTail(lines = 60) {
      return recentLog.slice(-lines);
    },
    /** Stops every process started here and removes the temporary directory (unless kept). */
    stop() {
      stopping ??= (async () => {
        await Promise.allSettled([...children].map(stopChild));
        children.clear();
        await new Promise((done) => logStream.end(done));
        if (keepTmp) console.log(`kept ${tmp}`);
        else rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
      })();
      return stopping;
    },
  };
  return stack;
}
