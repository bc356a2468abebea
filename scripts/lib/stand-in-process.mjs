/**
 * The StartMessaging stand-in in a process of its own, for checks that time its arrivals: in the
 * script's own process its event loop would also run the script's polling, and a call delayed
 * there would look bunched with the next. Read through its HTTP endpoints (/__calls, /__stats).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { stopChild } from './processes.mjs';
import { NODE, ROOT } from './wrangler.mjs';

/** Starts `scripts/startmessaging-stand-in.mjs` with `args` (its CLI flags); resolves once it listens. */
export async function startStandInProcess(args, { timeoutMs = 15_000 } = {}) {
  const child = spawn(NODE, [join(ROOT, 'scripts', 'startmessaging-stand-in.mjs'), '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const url = await new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`the stand-in did not start within ${timeoutMs / 1000} s: ${stderr}`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the stand-in exited (${code}): ${stderr}`));
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const line = buffered.split('\n')[0];
      if (!buffered.includes('\n')) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line).url);
      } catch {
        reject(new Error(`unexpected first line from the stand-in: ${line}`));
      }
    });
  });
  const read = async (path) => {
    const answer = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
    if (!answer.ok) throw new Error(`stand-in ${path}: ${answer.status}`);
    return answer.json();
  };
  return {
    url,
    /** { calls, statusCalls }: every send and every status check it received, in arrival order. */
    log: () => read('/__calls'),
    stats: () => read('/__stats'),
    stop: () => stopChild(child),
  };
}
