/**
 * Child processes and this process's exits: free loopback ports to start servers on, stopping a
 * child with its whole process group, reading a process tree from /proc, and routing every early
 * exit through one clean-up.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { sleep } from './async.mjs';

/** A port free on 127.0.0.1 right now (the OS picks it; another process may still take it later). */
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
 * Stops a child started with `detached: true` (so it leads its own process group): SIGTERM to the
 * group, SIGKILL after 5 s, and a last SIGKILL to the group in any case.
 */
export async function stopChild(child) {
  if (child.exitCode === null && child.signalCode === null) {
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
  }
  // wrangler may exit before its workerd does: make sure nothing of the group survives.
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* group empty */
  }
}

/** Waits for a command to exit 0; on any other code, a signal or the timeout it stops the group and throws. */
export async function expectSuccess(child, label, timeoutMs) {
  const code =
    child.exitCode ??
    child.signalCode ??
    (await Promise.race([new Promise((done) => child.once('exit', (exitCode, signal) => done(exitCode ?? signal))), sleep(timeoutMs).then(() => 'timeout')]));
  if (code !== 0) {
    await stopChild(child);
    throw new Error(`${label} failed (${code})`);
  }
}

/**
 * Sends every way this process can end early (SIGINT, SIGTERM, an uncaught error, an unhandled
 * rejection, the overall time limit) to `bail(message, exitCode)`, which stops the children: they
 * lead their own process groups, so they would outlive this process. Returns the overall timer.
 */
export function bailOnFatal(bail, { overallTimeoutMs = 0, label = '' } = {}) {
  process.once('SIGINT', () => void bail('interrupted (SIGINT)', 130));
  process.once('SIGTERM', () => void bail('terminated (SIGTERM)', 143));
  process.on('uncaughtException', (error) => void bail(`uncaught: ${error?.stack ?? error}`));
  process.on('unhandledRejection', (error) => void bail(`unhandled rejection: ${error?.stack ?? error}`));
  if (!overallTimeoutMs) return null;
  const message = `${label ? `${label}: ` : ''}overall timeout after ${Math.round(overallTimeoutMs / 1000)} s`;
  const timer = setTimeout(() => void bail(message), overallTimeoutMs);
  timer.unref();
  return timer;
}

// ---------------------------------------------------------------------------------------------
// Process trees from /proc (Linux): what wrangler dev started (its workerd processes), for CPU and
// memory accounting. Read directly rather than through `ps`, which would cost a process per sample.

let clockTicks; // read once, on first use, so that scripts which never ask spawn no getconf
function msPerTick() {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return 1000 / clockTicks;
}

/** The pid and every descendant (wrangler, its workerd processes), the pid first. */
export function processTree(rootPid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = processStat(Number(entry))?.ppid;
    if (ppid === undefined) continue;
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(Number(entry));
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

/**
 * One process from /proc/<pid>/stat: its command name, parent and CPU milliseconds used so far
 * (user + system); null once it is gone.
 */
export function processStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      pid,
      name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
      ppid: Number(fields[1]),
      cpuMs: (Number(fields[11]) + Number(fields[12])) * msPerTick(),
    };
  } catch {
    return null;
  }
}

/** A process's resident memory in KiB (VmRSS, what `ps` reports as RSS); null once it is gone. */
export function processRssKb(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s*(\d+) kB$/m);
    return line ? Number(line[1]) : 0; // a zombie or kernel thread has no VmRSS
  } catch {
    return null;
  }
}

/** A process's command line, its arguments joined by spaces; '' once it is gone. */
export function processArgs(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
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
    return { busyMs: (total - idle) * msPerTick(), totalMs: total * msPerTick() };
  } catch {
    return { busyMs: NaN, totalMs: NaN };
  }
}
