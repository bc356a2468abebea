#!/usr/bin/env node
/**
 * Limiter benchmark: `npm run bench:limiter`.
 *
 * Decisions per second of one rate-limit Durable Object (RateLimiter.consume, the call every
 * admission makes per scope) and the p50/p99 of one decision's round trip, then the same load
 * spread over more distinct keys (objects). The calls are made from inside the runtime (a
 * bench-only route of bench/workers/instrumented) with 64 in flight, so HTTP and the dev proxy
 * are not part of the figure.
 *
 * Three policies, each on fresh objects:
 * - the per-phone policy (PHONE_LIMITS and the cooldown): one admission, then denials: a hot key
 *   under attack;
 * - one shard of the global budget (GLOBAL_SEND_LIMIT / GLOBAL_SHARDS): admits until the shard's
 *   share is spent, then denies;
 * - admit everything (1,000,000/60): every decision inserts a row, so the window's log grows; the
 *   worst case for a sliding-window log.
 *
 * Options: --calls 2000 --runs 3 --concurrency 64 --keys 1,4,16,64,256 --json <file>
 */
import { writeFileSync } from 'node:fs';
import { createRun, deriveConfig, fmt, median, migrate, parseArgs, percentile, request, snapshotProject, startDev, stateDir } from './lib/harness.mjs';
import { wranglerVars } from './lib/vars.mjs';

const options = parseArgs(process.argv.slice(2), { calls: 2000, runs: 3, concurrency: 64, keys: '1,4,16,64,256', json: '' });
const keyCounts = options.keys.split(',').map(Number);

const parseRules = (text) =>
  text.split(',').map((part) => {
    const [limit, windowSeconds] = part.trim().split('/').map(Number);
    return { limit, windowSeconds };
  });

const run = createRun('limiter', { overallTimeoutMs: 30 * 60_000 });

await run.main(async () => {
  const started = Date.now();
  const defaults = wranglerVars();
  const shards = Number(defaults.GLOBAL_SHARDS);
  const policies = [
    {
      name: 'per-phone policy (hot key: 1 admit, then denials)',
      rules: parseRules(defaults.PHONE_LIMITS),
      cooldown: { scheduleSeconds: defaults.PHONE_COOLDOWN_SECONDS.split(',').map(Number), resetSeconds: 3600 },
    },
    {
      name: `global budget shard (${defaults.GLOBAL_SEND_LIMIT} / ${shards})`,
      rules: parseRules(defaults.GLOBAL_SEND_LIMIT).map((rule) => ({ ...rule, limit: Math.max(1, Math.floor(rule.limit / shards)) })),
    },
    { name: 'admit everything (1000000/60: the log grows)', rules: [{ limit: 1_000_000, windowSeconds: 60 }] },
  ];

  const project = snapshotProject(run);
  const config = deriveConfig(project, { file: 'wrangler.bench-limiter.toml', main: 'bench/workers/instrumented/index.js', dropConsumers: true });
  const persistTo = stateDir(run);
  await migrate(run, project, persistTo, config);
  const dev = await startDev(run, { cwd: project, config, persistTo, label: 'limiter' });
  console.log(`Limiter: ${options.calls} decisions per measurement, ${options.concurrency} in flight, keys ${keyCounts.join(', ')}, ${options.runs} runs`);

  const drive = async (body) => {
    const answer = await request('POST', `${dev.base}/__bench/limiter`, { body, timeoutMs: 300_000 });
    if (answer.status !== 200) throw new Error(`limiter route: ${answer.status} ${answer.text.slice(0, 300)}`);
    return answer.json;
  };

  // One decision at a time on one warm object: the round trip of a decision without queueing.
  const single = [];
  for (let runIndex = 0; runIndex < options.runs; runIndex += 1) {
    for (const [policyIndex, policy] of policies.entries()) {
      const answer = await drive({
        keyPrefix: `single:${runIndex}:${policyIndex}`,
        keys: 1,
        calls: 500,
        concurrency: 1,
        rules: policy.rules,
        cooldown: policy.cooldown,
        warm: true,
      });
      const latencies = answer.latencies.sort((a, b) => a - b);
      single.push({
        run: runIndex + 1,
        policy: policy.name,
        decisionsPerSecond: answer.calls / (answer.elapsedMs / 1000),
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
      });
    }
  }
  const singleSummary = policies.map((policy) => {
    const subset = single.filter((row) => row.policy === policy.name);
    return {
      policy: policy.name,
      decisionsPerSecond: median(subset.map((row) => row.decisionsPerSecond)),
      p50: median(subset.map((row) => row.p50)),
      p99: median(subset.map((row) => row.p99)),
    };
  });
  for (const row of singleSummary)
    console.log(`  one at a time, ${row.policy}: ${fmt(row.decisionsPerSecond, 0)} decisions/s, p50 ${fmt(row.p50, 2)} ms, p99 ${fmt(row.p99, 2)} ms`);

  const rows = [];
  for (let runIndex = 0; runIndex < options.runs; runIndex += 1) {
    for (const [policyIndex, policy] of policies.entries()) {
      for (const keys of keyCounts) {
        const answer = await drive({
          keyPrefix: `bench:${runIndex}:${policyIndex}:${keys}`,
          keys,
          calls: options.calls,
          concurrency: options.concurrency,
          rules: policy.rules,
          cooldown: policy.cooldown,
          warm: true,
        });
        const latencies = answer.latencies.sort((a, b) => a - b);
        const row = {
          run: runIndex + 1,
          policy: policy.name,
          keys,
          decisionsPerSecond: answer.calls / (answer.elapsedMs / 1000),
          allowed: answer.allowed,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
        };
        rows.push(row);
        console.log(
          `  run ${row.run} ${policy.name}, ${keys} keys: ${fmt(row.decisionsPerSecond, 0)} decisions/s, p50 ${fmt(row.p50, 2)} ms, p99 ${fmt(row.p99, 2)} ms, admitted ${row.allowed}`,
        );
      }
    }
  }

  const summary = policies.map((policy) => ({
    policy: policy.name,
    byKeys: keyCounts.map((keys) => {
      const subset = rows.filter((row) => row.policy === policy.name && row.keys === keys);
      return {
        keys,
        decisionsPerSecond: median(subset.map((row) => row.decisionsPerSecond)),
        p50: median(subset.map((row) => row.p50)),
        p99: median(subset.map((row) => row.p99)),
        allowed: median(subset.map((row) => row.allowed)),
      };
    }),
  }));

  console.log('');
  console.log(`| policy | ${keyCounts.map((keys) => `${keys} key${keys > 1 ? 's' : ''}`).join(' | ')} |`);
  console.log(`|---|${keyCounts.map(() => '---:').join('|')}|`);
  for (const entry of summary) {
    console.log(`| ${entry.policy} | ${entry.byKeys.map((cell) => `${fmt(cell.decisionsPerSecond, 0)}/s (p99 ${fmt(cell.p99, 1)} ms)`).join(' | ')} |`);
  }
  const result = { options, single: singleSummary, summary, rows, seconds: (Date.now() - started) / 1000 };
  if (options.json) writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
  return 0;
});
