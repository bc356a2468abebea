/**
 * Running wrangler from the Node scripts: the project's own wrangler under the Node the project
 * pins, in a snapshot of the tree, and `wrangler dev` on free loopback ports, ready once it answers.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './async.mjs';
import { localRunSecrets } from './local-dev-secrets.mjs';
import { freePort } from './processes.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WRANGLER_JS = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const WRANGLER_BIN = existsSync(WRANGLER_JS) ? WRANGLER_JS : join(ROOT, 'node_modules', '.bin', 'wrangler');
// wrangler needs the Node the project pins as a devDependency, even when a script was started
// with an older system Node.
const PINNED_NODE = join(ROOT, 'node_modules', '.bin', 'node');
export const NODE = existsSync(PINNED_NODE) ? PINNED_NODE : process.execPath;

function wranglerEnv() {
  return {
    ...process.env,
    PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
    WRANGLER_SEND_METRICS: 'false',
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    CI: '1',
  };
}

/**
 * Copies the project into `target` and links node_modules. Dependencies, VCS, build output, local
 * state and local secrets (.env*, .dev.vars*) are always left out; `skip` (names) and
 * `skipPrefixes` leave out more. wrangler dev rebuilds and restarts whenever a watched file
 * changes, and a restart loses the local queue's in-flight and delayed messages: a snapshot
 * cannot change under it.
 */
export function snapshotProject(target, { skip = [], skipPrefixes = [] } = {}) {
  const names = new Set(['node_modules', '.git', '.wrangler', 'dist', ...skip]);
  const prefixes = ['.env', '.dev.vars', ...skipPrefixes];
  mkdirSync(target, { recursive: true });
  for (const entry of readdirSync(ROOT)) {
    if (names.has(entry) || prefixes.some((prefix) => entry.startsWith(prefix))) continue;
    cpSync(join(ROOT, entry), join(target, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(target, 'node_modules'), 'dir');
  return target;
}

/**
 * Starts `wrangler <args>` in `cwd` as the leader of its own process group (so that stopChild can
 * end its workerd too), kept in `children` while it runs; `onOutput(chunk)` gets stdout and stderr.
 */
export function spawnWrangler(args, { cwd, children, onOutput }) {
  const child = spawn(NODE, [WRANGLER_BIN, ...args], { cwd, env: wranglerEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  child.once('exit', () => children.delete(child));
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', onOutput);
  }
  return child;
}

/** The arguments that apply the D1 migrations to a local `persistTo` directory. */
export function migrateArgs(persistTo, config) {
  return ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistTo, ...(config ? ['-c', config] : [])];
}

/**
 * Starts `wrangler dev` through `spawnDev(args)` (the caller's spawnWrangler, logging its own way)
 * on free loopback ports and waits until `readyPath` answers 200. `vars` is { NAME: value } or a
 * list of 'NAME:value'; the local development secrets are passed too, unless `vars` names them
 * (the Worker has no built-in secret), with this run's TOKEN_SIGNING_KEY (`localSecrets: false`:
 * none, for a Worker that is not the service). `port`: this one rather than a free one. Resolves { base, port, inspectorPort, child, body } (body: the ready
 * answer's text); throws when wrangler exits first or the time runs out.
 */
export async function startWranglerDev(
  spawnDev,
  {
    label = 'wrangler dev',
    config,
    persistTo,
    vars = {},
    localSecrets = true,
    port: fixedPort,
    logLevel,
    extraArgs = [],
    readyPath = '/healthz',
    readyTimeoutMs = 90_000,
  } = {},
) {
  const port = fixedPort ?? (await freePort());
  const inspectorPort = await freePort();
  const given = Array.isArray(vars) ? vars : Object.entries(vars).map(([name, value]) => `${name}:${value}`);
  const named = new Set(given.map((pair) => pair.slice(0, pair.indexOf(':'))));
  const secrets = Object.entries(localSecrets ? localRunSecrets() : {})
    .filter(([name]) => !named.has(name))
    .map(([name, value]) => `${name}:${value}`);
  const pairs = [...secrets, ...given];
  const child = spawnDev([
    'dev',
    ...(config ? ['-c', config] : []),
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--inspector-port',
    String(inspectorPort),
    '--show-interactive-dev-session=false',
    ...(logLevel ? ['--log-level', logLevel] : []),
    ...(persistTo ? ['--persist-to', persistTo] : []),
    ...pairs.flatMap((pair) => ['--var', pair]),
    ...extraArgs,
  ]);
  let exited = null;
  child.once('exit', (code, signal) => (exited = code ?? signal));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  // Bounded by time and, as a safety net, by count.
  for (let i = 0; i < 1000 && Date.now() < deadline && exited === null; i += 1) {
    try {
      const answer = await fetch(`${base}${readyPath}`, { signal: AbortSignal.timeout(2000) });
      const body = await answer.text();
      if (answer.status === 200) return { base, port, inspectorPort, child, body };
    } catch {
      /* not listening yet */
    }
    await sleep(250);
  }
  throw new Error(
    exited !== null
      ? `${label}: wrangler dev exited (${exited}) before ${readyPath} answered`
      : `${label}: ${readyPath} did not answer 200 within ${readyTimeoutMs / 1000} s`,
  );
}
