/**
 * Memory of the two workerd processes under wrangler dev, from /proc: the runtime (the Worker,
 * with local D1, queues and Durable Objects; started with an inspector) and wrangler's own dev
 * proxy. Sampled every MEMORY_EVERY_MS; the warm-up lasts until the runtime's RSS is stable.
 */
import { processArgs, processRssKb, processStat, processTree } from '../lib/processes.mjs';
import { drive } from './drive.mjs';
import { fmt } from './format.mjs';
import { MEMORY_EVERY_MS, WARM_UP_MAX_SECONDS } from './settings.mjs';

/** RSS of the workerd processes under a wrangler dev, every MEMORY_EVERY_MS, into `series`. */
export function startMemorySampler(stack, series, currentPhase, requestCount) {
  const sample = async () => {
    const workerd = processTree(stack.pid)
      .slice(1)
      .filter((pid) => processStat(pid)?.name === 'workerd')
      .map((pid) => ({ args: processArgs(pid), rssKb: processRssKb(pid) ?? 0 }));
    const runtime = workerd.filter((row) => row.args.includes('--inspector-addr'));
    const proxy = workerd.filter((row) => !row.args.includes('--inspector-addr'));
    const mb = (rows) => rows.reduce((sum, row) => sum + row.rssKb, 0) / 1024;
    series.push({ t: (Date.now() - series.startedAt) / 1000, phase: currentPhase(), requests: requestCount(), runtimeMb: mb(runtime), proxyMb: mb(proxy) });
  };
  series.startedAt = Date.now();
  return { sample, timer: setInterval(() => void sample(), MEMORY_EVERY_MS) };
}

/** Mean of the first and last third of a series, and the change between them. */
export function thirds(series, key) {
  const third = Math.max(1, Math.floor(series.length / 3));
  const mean = (list) => list.reduce((sum, s) => sum + s[key], 0) / Math.max(1, list.length);
  const first = mean(series.slice(0, third));
  const last = mean(series.slice(-third));
  return { first, last, change: first > 0 ? (last - first) / first : 0 };
}

/**
 * Traffic at `concurrency` until the runtime's RSS is stable (the mean of its last 30 s at most
 * 2% above the 30 s before, after at least 60 s), so that warming up is not judged as growth.
 * Returns the seconds it took, or null when it was not stable within WARM_UP_MAX_SECONDS.
 */
export async function warmUpUntilStable(base, concurrency, memory) {
  const warmUpStartedAt = Date.now();
  let stableAfter = null;
  console.log(`warm-up: ${concurrency} clients until the runtime's RSS is stable (at most ${WARM_UP_MAX_SECONDS} s) ...`);
  for (let round = 0; round < 1000 && (Date.now() - warmUpStartedAt) / 1000 < WARM_UP_MAX_SECONDS; round += 1) {
    await drive(base, concurrency, Math.min(15, Math.max(1, WARM_UP_MAX_SECONDS - (Date.now() - warmUpStartedAt) / 1000)), 'warm-up');
    const elapsed = (Date.now() - warmUpStartedAt) / 1000;
    const recent = memory.filter((sample) => sample.phase === 'warm-up' && sample.t >= (Date.now() - memory.startedAt) / 1000 - 60);
    const half = recent.filter((sample) => sample.t >= (Date.now() - memory.startedAt) / 1000 - 30);
    const before = recent.filter((sample) => sample.t < (Date.now() - memory.startedAt) / 1000 - 30);
    const mean = (list) => list.reduce((sum, sample) => sum + sample.runtimeMb, 0) / list.length;
    const last = memory.at(-1);
    console.log(`  t+${fmt(elapsed, 0)} s: runtime ${fmt(last?.runtimeMb)} MB, dev proxy ${fmt(last?.proxyMb)} MB`);
    if (elapsed >= 60 && half.length >= 5 && before.length >= 5 && mean(half) <= 1.02 * mean(before)) {
      stableAfter = elapsed;
      break;
    }
  }
  console.log(stableAfter === null ? `  not stable after ${WARM_UP_MAX_SECONDS} s; soaking anyway` : `  stable after ${fmt(stableAfter, 0)} s`);
  return stableAfter;
}
