/**
 * Starts the Worker with `wrangler dev` for a browser test: a throwaway --persist-to directory with
 * the D1 migrations applied, free loopback ports, and a stop() that ends the whole process group
 * (wrangler and its workerd) however the test ends.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep, stopChild } from '../scripts/lib/dev-stack.mjs';

export { freePort };

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WRANGLER_JS = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
// wrangler needs the Node the project pins, whatever Node started this script.
const PINNED_NODE = join(ROOT, 'node_modules', '.bin', 'node');
const NODE = existsSync(PINNED_NODE) ? PINNED_NODE : process.execPath;


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

/** Runs `wrangler dev` with `vars`; resolves once /healthz answers. */
export async function startWranglerDev({ vars = {}, timeoutMs = 90_000 } = {}) {
  const tmp = mkdtempSync(join(tmpdir(), 'otpd-browser-'));
  const persistTo = join(tmp, 'state');
  const log = [];
  const children = new Set();
  const spawnWrangler = (args) => {
    const child = spawn(NODE, [WRANGLER_JS, ...args], { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(child);
    child.once('exit', () => children.delete(child));
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        log.push(...chunk.split('\n').filter(Boolean));
        if (log.length > 400) log.splice(0, log.length - 200);
      });
    }
    return child;
  };
  const stop = async () => {
    await Promise.allSettled([...children].map(stopGroup));
    rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  };

  try {
    const migrate = spawnWrangler(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistTo]);
    const migrated = await Promise.race([new Promise((done) => migrate.once('exit', (code) => done(code))), sleep(60_000).then(() => 'timeout')]);
    if (migrated !== 0) throw new Error(`migrations failed (${migrated})`);

    const port = await freePort();
    const inspectorPort = await freePort();
    const varArgs = Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${value}`]);
    const dev = spawnWrangler([
      'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
      '--persist-to', persistTo, '--show-interactive-dev-session=false', ...varArgs,
    ]);
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (dev.exitCode !== null) throw new Error(`wrangler dev exited (${dev.exitCode})`);
      try {
        const response = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2000) });
        if (response.ok) return { base, stop, log };
      } catch {
        /* not listening yet */
      }
      await sleep(250);
    }
    throw new Error(`wrangler dev did not answer /healthz within ${timeoutMs / 1000} s`);
  } catch (error) {
    console.error(log.slice(-40).join('\n'));
    await stop();
    throw error;
  }
}
