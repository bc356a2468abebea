/** What the soak prints after the run, and the criteria that decide its exit code. */
import { writeFileSync } from 'node:fs';
import { fmt, table } from './format.mjs';
import { ledger, percentileOrNull } from './ledger.mjs';
import { thirds } from './memory.mjs';
import { FINAL, MEMORY_EVERY_MS, MEMORY_GROWTH_LIMIT, MIX, STEP_SECONDS, WARM_UP_MAX_SECONDS } from './settings.mjs';

/** Requests by what became of them, from the soak's polls and the stand-in's record. */
export function outcomeOfRequests({ smsByKey, smsAt }) {
  const requests = [...ledger.requests.values()];
  const delivered = requests.filter((request) => request.status === 'sent' || request.status === 'verified');
  const notOneSms = delivered.filter((request) => (smsByKey.get(`otpd-${request.id}`) ?? 0) !== 1);
  const lost = requests.filter((request) => !FINAL.has(request.status));
  const statusCounts = {};
  for (const request of requests) statusCounts[request.status] = (statusCounts[request.status] ?? 0) + 1;
  // 202 to the SMS leaving (the stand-in's arrival time of the call that sent it): the service's
  // own delivery latency, unlike the time a client first saw `sent`, which depends on polling.
  const toSms = requests
    .map((request) => smsAt.get(`otpd-${request.id}`) - request.createdAt)
    .filter((ms) => Number.isFinite(ms))
    .map((ms) => Math.max(0, ms) / 1000)
    .sort((a, b) => a - b);
  return { delivered, notOneSms, lost, statusCounts, toSms };
}

/** The ramp, the soak by kind of call, the requests and the stand-in's counters. */
export function printTraffic({ ramp, concurrency, soak, soakSeconds, outcome, stats, drainSeconds }) {
  if (ramp.length) {
    console.log(`\nRamp (closed loop, ${STEP_SECONDS} s per step):`);
    console.log(
      table(
        ['clients', 'req/s', 'p50 ms', 'p99 ms', '5xx', 'transport errors', 'healthy'],
        ramp.map((s) => [
          s.level,
          fmt(s.rps),
          fmt(s.p50),
          fmt(s.p99),
          s.errors5xx,
          s.transport,
          s.healthy ? (s.level === concurrency ? 'yes (chosen)' : 'yes') : 'no',
        ]),
      ),
    );
  }
  const soakSamples = ledger.samples.filter((sample) => sample.phase === 'soak');
  const kinds = [...new Set(soakSamples.map((sample) => sample.kind))].sort();
  console.log(
    `\nSoak: ${concurrency} clients, ${fmt(soakSeconds)} s, ${soak.calls} calls, ${fmt(soak.rps)} req/s, p50 ${fmt(soak.p50)} ms, p99 ${fmt(soak.p99)} ms`,
  );
  console.log(
    table(
      ['kind', 'calls', 'req/s', 'statuses', 'unexpected', 'p50 ms', 'p99 ms'],
      kinds.map((kind) => {
        const mine = soakSamples.filter((sample) => sample.kind === kind);
        const byStatus = {};
        for (const sample of mine) byStatus[sample.status] = (byStatus[sample.status] ?? 0) + 1;
        const latencies = mine.map((sample) => sample.ms).sort((a, b) => a - b);
        return [
          kind,
          mine.length,
          fmt(mine.length / soakSeconds),
          Object.entries(byStatus)
            .map(([status, count]) => `${status}:${count}`)
            .join(' '),
          mine.filter((sample) => !sample.ok).length,
          fmt(percentileOrNull(latencies, 50)),
          fmt(percentileOrNull(latencies, 99)),
        ];
      }),
    ),
  );
  const unexpected = soakSamples.filter((sample) => !sample.ok);
  for (const sample of unexpected.slice(0, 10)) console.log(`  unexpected: ${sample.kind} ${sample.status} ${sample.detail}`);

  const { statusCounts, toSms } = outcome;
  console.log(
    `\nRequests created: ${ledger.requests.size} (${Object.entries(statusCounts)
      .map(([status, count]) => `${status} ${count}`)
      .join(', ')}); ` +
      `202 to SMS at the provider p50 ${fmt(percentileOrNull(toSms, 50), 2)} s, p99 ${fmt(percentileOrNull(toSms, 99), 2)} s, max ${fmt(toSms.at(-1), 2)} s; drain ${fmt(drainSeconds)} s`,
  );
  console.log(
    `Stand-in: ${stats.calls} calls (${Object.entries(stats.byStatus)
      .map(([status, count]) => `${status}: ${count}`)
      .join(', ')}), ` + `${stats.delivered} SMS, ${stats.replays} idempotent replays, ${stats.duplicates} duplicates`,
  );
  return { soakSamples, kinds, unexpected };
}

/** The memory series and the pass/fail criteria; writes SOAK_JSON when set. True when all pass. */
export function judge({ ramp, concurrency, soak, outcome, stats, memory, stableAfter, traffic }) {
  const { soakSamples, kinds, unexpected } = traffic;
  const { delivered, notOneSms, lost, statusCounts } = outcome;
  const soakMemory = memory.filter((sample) => sample.phase === 'soak');
  const runtime = thirds(soakMemory, 'runtimeMb');
  const proxy = thirds(soakMemory, 'proxyMb');
  const line = (sample) =>
    `  t=${fmt(sample.t, 0).padStart(4)} s  ${sample.phase.padEnd(8)} requests ${String(sample.requests).padStart(6)}  runtime ${fmt(sample.runtimeMb).padStart(7)} MB  dev proxy ${fmt(sample.proxyMb).padStart(7)} MB`;
  console.log(`\nMemory (RSS) of the workerd runtime and of wrangler's dev proxy (also workerd), every ${MEMORY_EVERY_MS / 1000} s:`);
  console.log(memory.map(line).join('\n'));
  console.log(
    `  warm-up: ${stableAfter === null ? `not stable within ${WARM_UP_MAX_SECONDS} s` : `stable after ${fmt(stableAfter, 0)} s`}; ` +
      `soak: runtime ${fmt(runtime.first)} -> ${fmt(runtime.last)} MB (first -> last third, ${fmt(runtime.change * 100)}%), ` +
      `dev proxy ${fmt(proxy.first)} -> ${fmt(proxy.last)} MB (${fmt(proxy.change * 100)}%, not judged)`,
  );
  const growth = soakMemory.length >= 3 ? runtime.change : null;

  const { samples, requests } = ledger;
  const soakByKind = Object.fromEntries(kinds.map((kind) => [kind, soakSamples.filter((sample) => sample.kind === kind).length]));
  const all5xx = samples.filter((sample) => typeof sample.status === 'number' && sample.status >= 500).length;
  const replayMismatches = samples.filter((sample) => sample.kind === 'replay' && !sample.ok && sample.status !== 'error').length;
  const criteria = [
    ['zero 5xx (whole run)', all5xx === 0, `${all5xx}`],
    ['zero transport errors in the soak', soak.transport === 0, `${soak.transport}`],
    ['zero unexpected answers in the soak', unexpected.length === 0, `${unexpected.length}`],
    ['zero lost requests (every 202 reached a final status)', lost.length === 0, `${lost.length} of ${requests.size}`],
    ['zero duplicate SMS at the stand-in', stats.duplicates === 0, `${stats.duplicates}`],
    ['exactly one SMS per request that reached sent', notOneSms.length === 0, `${notOneSms.length} of ${delivered.length} differ`],
    ['replays answered the original requestId', replayMismatches === 0, `${replayMismatches} mismatches`],
    ['every kind of traffic ran in the soak', MIX.every(([kind, weight]) => weight === 0 || (soakByKind[kind] ?? 0) > 0), JSON.stringify(soakByKind)],
    [
      `memory flat after warm-up (runtime RSS, last third of the soak at most ${MEMORY_GROWTH_LIMIT * 100}% above the first third)`,
      growth !== null && growth <= MEMORY_GROWTH_LIMIT,
      `${fmt(runtime.first)} -> ${fmt(runtime.last)} MB, ${fmt(growth === null ? null : growth * 100)}%`,
    ],
  ];
  console.log('');
  for (const [name, ok, detail] of criteria) console.log(`${ok ? 'ok  ' : 'FAIL'}  ${name}: ${detail}`);
  for (const request of lost.slice(0, 5)) console.log(`  lost: ${request.id} last seen ${request.status}`);

  if (process.env.SOAK_JSON) {
    writeFileSync(
      process.env.SOAK_JSON,
      `${JSON.stringify({ concurrency, ramp, stableAfter, soak, soakByKind, statusCounts, lost: lost.length, stats, memory, growth, criteria }, null, 2)}\n`,
    );
  }
  return criteria.every(([, ok]) => ok);
}
