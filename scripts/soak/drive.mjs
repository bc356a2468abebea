/**
 * Closed-loop load: N clients each making one call at a time, drawn from the mix; and the ramp
 * that finds the concurrency to soak at.
 */
import { fmt } from './format.mjs';
import { ledger, summarize } from './ledger.mjs';
import { OPERATIONS } from './operations.mjs';
import { MIX, MIX_TOTAL, RAMP, STEP_SECONDS } from './settings.mjs';

function pickKind() {
  let draw = Math.random() * MIX_TOTAL;
  for (const [kind, weight] of MIX) {
    draw -= weight;
    if (draw < 0) return kind;
  }
  return 'poll';
}

/** `clients` closed-loop clients, each making one call at a time, until `seconds` have passed. */
export async function drive(base, clients, seconds, label) {
  ledger.phase = label;
  const until = Date.now() + seconds * 1000;
  const startedAt = Date.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = 0; i < 1_000_000 && Date.now() < until; i += 1) await OPERATIONS[pickKind()](base);
    }),
  );
  return (Date.now() - startedAt) / 1000;
}

/**
 * Steps through RAMP after an unmeasured warm-up; the healthy step (no 5xx, no transport error,
 * p99 at most 4x the first step's and 2 s) with the highest throughput is the soak's concurrency.
 */
export async function rampUp(base) {
  const ramp = [];
  // Unmeasured warm-up, so the first step (the latency reference) does not pay for cold starts.
  await drive(base, 4, 4, 'warm-up');
  for (const level of RAMP) {
    const label = `ramp:${level}`;
    const seconds = await drive(base, level, STEP_SECONDS, label);
    ramp.push({ level, ...summarize(label, seconds) });
    const step = ramp.at(-1);
    console.log(
      `  ramp ${String(level).padStart(3)} clients: ${fmt(step.rps)} req/s, p50 ${fmt(step.p50)} ms, p99 ${fmt(step.p99)} ms, 5xx ${step.errors5xx}, transport errors ${step.transport}`,
    );
  }
  for (const sample of ledger.samples.filter((s) => typeof s.status === 'number' && s.status >= 500).slice(0, 5))
    console.log(`  5xx: ${sample.phase} ${sample.kind} ${sample.status} ${sample.detail}`);
  const firstP99 = ramp[0].p99;
  for (const step of ramp) step.healthy = step.errors5xx === 0 && step.transport === 0 && step.p99 <= Math.min(2000, 4 * firstP99);
  const healthy = ramp.filter((step) => step.healthy);
  if (healthy.length === 0) throw new Error('no ramp step was healthy');
  const best = healthy.reduce((top, step) => (step.rps > top.rps ? step : top));
  console.log(`  chosen: ${best.level} clients (the healthy step with the highest throughput, ${fmt(best.rps)} req/s)`);
  return { ramp, concurrency: best.level };
}
