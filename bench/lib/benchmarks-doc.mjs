/**
 * docs/benchmarks.md from the benchmarks' JSON: this module computes the figures (formatted) and
 * the verdicts; the prose is bench/benchmarks.md.tmpl. Rendering the same JSON twice gives the
 * same document, so `npm run bench -- --from-json <dir>` re-renders a kept run after a wording change.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fmt, fmtInt, median, ROOT } from './harness.mjs';
import { fillTemplate } from './template.mjs';

export const TEMPLATE = join(ROOT, 'bench', 'benchmarks.md.tmpl');
export const ALL_BENCHMARKS = 'api,dispatch,limiter,cost,phone,failover';

const pct = (value, digits = 1) => (Number.isFinite(value) ? `${(value * 100).toFixed(digits)}%` : 'n/a');

/** Items for a `{{#list}}` whose entries are joined with a separator (`{{^first}}, {{/first}}`). */
const listed = (items) => items.map((item, index) => ({ ...item, first: index === 0 }));

/** "1 connection", "16, 64 connections": singular only for exactly one connection. */
const connections = (levels) => `${levels.join(', ')} connection${levels.length === 1 && levels[0] === 1 ? '' : 's'}`;

/**
 * @param run {{ outcomes: Record<string, { code: number, result: object | null, seconds: number }>, machine: object,
 *   loadBefore: number[], loadAfter: number[], totalSeconds: number, code: { commit: string, changed: boolean } | null, only: string }}
 */
export function renderBenchmarksDoc(run, template = readFileSync(TEMPLATE, 'utf8')) {
  return fillTemplate(template, benchmarksView(run)).replace(/\n{3,}/g, '\n\n');
}

export function benchmarksView({ outcomes, machine, loadBefore, loadAfter, totalSeconds, code, only }) {
  const measured = (key, view) => (outcomes[key]?.result ? view(outcomes[key]) : null);
  const failed = Object.entries(outcomes).filter(([, outcome]) => outcome.code !== 0 || !outcome.result);
  return {
    command: `npm run bench${only !== ALL_BENCHMARKS ? ` -- --only ${only}` : ''}`,
    date: machine.date.slice(0, 10),
    totalMinutes: fmt(totalSeconds / 60, 1),
    code,
    machine,
    loadBefore: fmt(loadBefore[0], 2),
    loadAfter: fmt(loadAfter[0], 2),
    api: measured('api', apiView),
    dispatch: measured('dispatch', dispatchView),
    limiter: measured('limiter', limiterView),
    cost: measured('cost', costView),
    phone: measured('phone', phoneView),
    failover: measured('failover', failoverView),
    exitCodes: Object.fromEntries(['api', 'dispatch', 'limiter', 'cost', 'phone', 'failover'].map((key) => [key, String(outcomes[key]?.code)])),
    anyFailed: failed.length > 0,
    failed: failed.map(([key, outcome]) => ({ key, code: outcome.code })),
  };
}

function apiView(outcome) {
  const r = outcome.result;
  const at = (concurrency) => r.summary.find((row) => row.concurrency === concurrency);
  const mid = at(16) ?? r.summary[0];
  const worst = r.summary.reduce((a, b) => (a.throughputShare < b.throughputShare ? a : b));
  const best = r.summary.reduce((a, b) => (a.p99Factor > b.p99Factor ? a : b));
  const rows = listed(r.summary.map(apiRow));
  const metLevels = r.summary.filter((row) => row.p99Factor >= 10).map((row) => row.concurrency);
  const missedRows = listed(rows.filter((_, index) => r.summary[index].p99Factor < 10));
  const cpu = (design, digits) => fmt(mid.cpuMsPerRequest[design]?.runtime, digits);
  return {
    minutes: fmt(outcome.seconds / 60, 1),
    // A remark added to the kept JSON after the run, e.g. that later code changed what it measured.
    note: r.note ?? null,
    options: r.options,
    defaultsGlobalSendLimit: r.defaultsGlobalSendLimit,
    // Runs kept from before the steady-state warm-up render without its sentence.
    warmup: r.warmup?.api
      ? {
          prefixes: fmtInt(r.warmup.api.requests),
          designs: Object.entries(r.warmup)
            .map(([name, w]) => `${name} ${fmt(w.seconds, 0)} s`)
            .join(', '),
        }
      : null,
    // Results from before the stubbed design existed (--from-json) render without its columns.
    stubbed: r.summary.every((row) => row.stubbed && row.cpuMsPerRequest.stubbed),
    everyRowStubbed: r.summary.every((row) => row.stubbed),
    stubbedNearCeiling: r.summary.every((row) => row.stubbedThroughputShare >= 0.9),
    rows,
    throughputMet: r.summary.every((row) => row.throughputShare >= 0.5),
    worst: { concurrency: worst.concurrency, belowTarget: worst.throughputShare < 0.5, shortBy: fmt(0.5 / worst.throughputShare, 1) },
    p99: {
      everyRowMet: r.summary.every((row) => row.p99Factor >= 10),
      noRowMissed: missedRows.length === 0,
      anyRowMet: metLevels.length > 0,
      metConnections: connections(metLevels),
      missedRows,
      best: {
        factor: fmt(best.p99Factor, 1),
        connections: `${best.concurrency} connection${best.concurrency > 1 ? 's' : ''}`,
        shortBy: fmt(10 / best.p99Factor, 1),
      },
    },
    openLoop: {
      ratePerSecond: r.openLoop.ratePerSecond,
      met: r.openLoop.p99Factor >= 10,
      p99Factor: fmt(r.openLoop.p99Factor, 1),
      apiP50: fmt(r.openLoop.api.p50),
      apiP99: fmt(r.openLoop.api.p99),
      syncP50: fmt(r.openLoop.sync.p50),
      syncP99: fmt(r.openLoop.sync.p99),
      apiP50Whole: fmt(r.openLoop.api.p50, 0),
      apiP99Whole: fmt(r.openLoop.api.p99, 0),
      syncP50Whole: fmt(r.openLoop.sync.p50, 0),
    },
    mid: {
      concurrency: mid.concurrency,
      nonSuccess: mid.nonSuccess,
      apiRuntimeCpu: cpu('api', 1),
      ceilingRuntimeCpu: cpu('ceiling', 1),
      stubbedRuntimeCpu: cpu('stubbed', 2),
      workerCpu: fmt(mid.workerCpuMsPerRequest, 2),
    },
    oneConnectionP50: fmt(at(1)?.api.p50, 0),
    foreignCpuMedian: pct(median(r.summary.map((row) => row.foreignCpuShare)), 0),
    profile: r.profile ? profileView(r.profile) : null,
    before: r.before ? beforeView(r) : null,
  };
}

/** Issue 16's measure: the API against the code before it, side by side in the same run. */
const BEFORE_TARGET = 1.5;
function beforeView(r) {
  const top = r.summary.reduce((a, b) => (a.concurrency > b.concurrency ? a : b));
  return {
    commit: r.before.commit,
    subject: r.before.subject,
    target: fmt(BEFORE_TARGET, 1),
    topConcurrency: top.concurrency,
    topSpeedup: fmt(top.speedup, 2),
    met: top.speedup >= BEFORE_TARGET,
    rows: listed(
      r.summary.map((row) => ({
        concurrency: row.concurrency,
        ceiling: fmtInt(row.ceiling.throughput),
        beforeThroughput: fmtInt(row.before.throughput),
        beforeShare: pct(row.beforeThroughputShare),
        apiThroughput: fmtInt(row.api.throughput),
        apiShare: pct(row.throughputShare),
        speedup: fmt(row.speedup, 2),
        beforeP99: fmtInt(row.before.p99),
        apiP99: fmtInt(row.api.p99),
        beforeCpu: fmt(row.cpuMsPerRequest.before?.runtime, 1),
        apiCpu: fmt(row.cpuMsPerRequest.api.runtime, 1),
        cpuSpeedup: fmt(row.cpuSpeedup, 2),
      })),
    ),
  };
}

function apiRow(row) {
  const cpu = (design) => ({ proxy: fmt(row.cpuMsPerRequest[design]?.proxy, 2), runtime: fmt(row.cpuMsPerRequest[design]?.runtime, 2) });
  return {
    concurrency: row.concurrency,
    ceilingThroughput: fmtInt(row.ceiling.throughput),
    apiThroughput: fmtInt(row.api.throughput),
    throughputShare: pct(row.throughputShare),
    apiP50: fmt(row.api.p50),
    apiP99: fmt(row.api.p99),
    stubbedThroughput: fmtInt(row.stubbed?.throughput),
    stubbedThroughputShare: pct(row.stubbedThroughputShare, 0),
    stubbedP50: fmt(row.stubbed?.p50),
    stubbedP99: fmt(row.stubbed?.p99),
    stubbedP99Factor: fmt(row.sync.p99 / row.stubbed?.p99, 1),
    platformShare: pct(row.platformShare, 0),
    platformCpuShare: pct(row.platformCpuShare, 0),
    syncThroughput: fmtInt(row.sync.throughput),
    syncP50: fmt(row.sync.p50),
    syncP99: fmt(row.sync.p99),
    p99Factor: fmt(row.p99Factor, 1),
    foreignCpuShare: pct(row.foreignCpuShare, 0),
    cpu: { ceiling: cpu('ceiling'), api: cpu('api'), stubbed: cpu('stubbed'), sync: cpu('sync') },
    loadGeneratorCpu: fmt(row.loadGeneratorCpuMsPerRequest, 2),
  };
}

function profileView(profile) {
  return {
    requests: profile.requests,
    busyMsPerRequest: fmt(profile.busyMsPerRequest, 1),
    categories: profile.categories.map((category) => ({ name: category.name, msPerRequest: fmt(category.msPerRequest, 2), share: pct(category.share) })),
    topFunctions: listed(profile.topFunctions.slice(0, 8).map((entry) => ({ name: entry.name.split(' ')[0], msPerRequest: fmt(entry.msPerRequest, 2) }))),
  };
}

function dispatchView(outcome) {
  const r = outcome.result;
  const clean = r.summary.find((row) => row.scenario === 'clean');
  const flaky = r.summary.find((row) => row.failRate > 0);
  return {
    minutes: fmt(outcome.seconds / 60, 1),
    // A remark added to the kept JSON after the run, e.g. that later code changed what it measured.
    note: r.note ?? null,
    options: r.options,
    batchSize: r.batchSize,
    pacerSpacingMs: fmt(800 / r.options.rate, 0),
    evenSpanSeconds: r.options.sends / r.options.rate,
    sixConnectionsRate: fmt(6000 / r.options.latency, 0),
    rows: r.summary.map((row) => ({
      scenario: row.scenario,
      drainSeconds: fmt(row.drainSeconds, 1),
      providerCalls: fmtInt(row.providerCalls),
      callRate: fmt(row.callRate, 1),
      rateShare: pct(row.rateShare),
      rateLimited: row.rateLimited,
      failed500: fmtInt(row.failed500),
      duplicates: row.duplicates,
      lost: row.lost,
      peakRps: row.peakRps ?? '–',
      idleSeconds: fmt(row.idleSeconds, 1),
      idleGaps: fmt(row.idleGaps, 0),
    })),
    clean: clean && {
      rateShare: pct(clean.rateShare),
      callRate: fmt(clean.callRate, 1),
      rateMet: clean.rateShare >= 0.95,
      shortByPoints: fmt((0.95 - clean.rateShare) * 100, 1),
      rateLimited: clean.rateLimited,
      duplicates: clean.duplicates,
      lost: clean.lost,
      noneLimitedDuplicatedOrLost: clean.rateLimited === 0 && clean.duplicates === 0 && clean.lost === 0,
      peakAboveRate: clean.peakRps > r.options.rate,
      peakRps: clean.peakRps,
      bucketLow: fmt(clean.bucketLow, 0),
    },
    flaky: flaky && {
      failRate: pct(flaky.failRate, 0),
      lost: flaky.lost,
      duplicates: flaky.duplicates,
      failed500: fmtInt(flaky.failed500),
      failed500Plain: fmt(flaky.failed500, 0),
      exactlyOnce: flaky.lost === 0 && flaky.duplicates === 0 && flaky.allDrained,
      drainSeconds: fmt(flaky.drainSeconds, 1),
      rateShare: pct(flaky.rateShare),
    },
  };
}

function limiterView(outcome) {
  const r = outcome.result;
  const keys = r.summary[0].byKeys.map((cell) => cell.keys);
  const cell = (entry) => ({ keys: entry.keys, decisionsPerSecond: fmtInt(entry.decisionsPerSecond), p99: fmt(entry.p99, 0) });
  const policy = (entry) => ({
    firstCell: cell(entry.byKeys[0]),
    lastCell: cell(entry.byKeys.at(-1)),
    bestCell: cell(entry.byKeys.reduce((a, b) => (a.decisionsPerSecond > b.decisionsPerSecond ? a : b))),
  });
  const [hot, shard, growing] = r.summary;
  return {
    minutes: fmt(outcome.seconds / 60, 1),
    // A remark added to the kept JSON after the run, e.g. that later code changed what it measured.
    note: r.note ?? null,
    options: r.options,
    hotOneKey: cell(hot.byKeys.find((entry) => entry.keys === 1)),
    firstSingle: { p50: fmt(r.single[0].p50, 0), p99: fmt(r.single[0].p99, 0) },
    single: r.single.map((row) => ({ policy: row.policy, decisionsPerSecond: fmtInt(row.decisionsPerSecond), p50: fmt(row.p50, 0), p99: fmt(row.p99, 0) })),
    mostKeys: keys.at(-1),
    keys: listed(keys.map((count) => ({ label: `${count} key${count > 1 ? 's' : ''}` }))),
    policies: r.summary.map((entry) => ({ policy: entry.policy, cells: entry.byKeys.map(cell) })),
    hot: policy(hot),
    shard: policy(shard),
    growing: policy(growing),
  };
}

function phoneView(outcome) {
  const r = outcome.result;
  const kib = (bytes) => fmt(bytes / 1024, 0);
  return {
    minutes: fmt(outcome.seconds / 60, 1),
    note: r.note ?? null,
    options: r.options,
    numbers: listed(r.numbers.map((number) => ({ number }))),
    usPerCall: fmt(r.warm.usPerCall, 1),
    loadMs: fmt(r.cold.loadUs / 1000, 1),
    firstCallMs: fmt(r.cold.firstCallUs / 1000, 1),
    check: { kib: kib(r.bundle.checkBytes), gzipKib: kib(r.bundle.checkGzipBytes) },
    worker: { kib: kib(r.bundle.workerBytes), gzipKib: kib(r.bundle.workerGzipBytes) },
    before: r.before ? { kib: kib(r.before.workerBytes), gzipKib: kib(r.before.workerGzipBytes), commit: r.before.commit } : null,
  };
}

function costView(outcome) {
  const r = outcome.result;
  const s = r.successful;
  const { perPhone, blockedPrefix } = r.rejected;
  const rejectedD1 = perPhone.d1Statements + blockedPrefix.d1Statements;
  const rejectedQueue = perPhone.queueWrites + blockedPrefix.queueWrites;
  const [first, second] = Object.entries(r.costs.successful.lines).sort((a, b) => b[1] - a[1]);
  const total = r.costs.successful.total;
  return {
    minutes: fmt(outcome.seconds / 60, 1),
    // A remark added to the kept JSON after the run, e.g. that later code changed what it measured.
    note: r.note ?? null,
    options: r.options,
    prices: r.prices,
    pricesSource: r.pricesSource,
    pricesChecked: r.pricesChecked,
    doMemoryMb: r.prices.doMemoryGb * 1000,
    units: {
      successful: unitCounts(s),
      statusPoll: unitCounts(r.statusPoll),
      rejectedPerPhone: unitCounts(perPhone),
      rejectedBlockedPrefix: unitCounts(blockedPrefix),
    },
    split: {
      requestObjectCalls: fmt(r.split.request.doRequests, 0),
      requestLeaseCalls: fmt(r.split.request.leaseCalls ?? 0, 2),
      requestD1Statements: fmt(r.split.request.d1.statements, 0),
      requestD1RowsWritten: fmt(r.split.request.d1.rowsWritten, 0),
      deliveryD1Statements: fmt(r.split.delivery.d1.statements, 0),
      deliveryD1RowsWritten: fmt(r.split.delivery.d1.rowsWritten, 0),
      verificationD1Statements: fmt(perPhase(r, 'verification', 'd1.statements'), 0),
    },
    // A job that finds no send time left in the pacer's horizon is read from the queue again.
    requeued: s.queueReads > 1.005,
    queueReadsPerOtp: fmt(s.queueReads, 2),
    rowsWritten: rowsWrittenView(r),
    costLines: Object.entries(r.costs.successful.lines).map(([name, usd]) => ({ name, usd: fmt(usd, 2) })),
    successfulTotal: fmt(total, 2),
    smsInrPerMillion: fmtInt(r.prices.smsInr * 1_000_000),
    smsUsdPerMillion: fmtInt(r.smsUsdPerMillion),
    infraShare: pct(r.infraShare, 2),
    infraMet: r.infraShare < 0.01,
    infraTimesTarget: fmt(r.infraShare / 0.01, 1),
    statusPollTotal: fmt(r.costs.statusPoll.total, 2),
    rejected: {
      // Per rejected request: the two phases above are one request each.
      touches: fmt((rejectedD1 + rejectedQueue) / 2, 1),
      d1Writes: fmt((perPhone.d1RowsWritten + blockedPrefix.d1RowsWritten) / 2, 1),
      untouched: rejectedD1 + rejectedQueue === 0,
      d1Statements: fmt(rejectedD1 / 2, 1),
      queueWrites: fmt(rejectedQueue / 2, 1),
      perPhoneTotal: fmt(r.costs.rejectedPerPhone.total, 2),
      blockedPrefixTotal: fmt(r.costs.rejectedBlockedPrefix.total, 2),
      objectCalls: fmt(perPhone.doRequests, 0),
      objectRowsWritten: fmt(perPhone.doSqlRowsWritten + perPhone.doKvWrites, 0),
    },
    // Older kept runs predate apps and have no key-check phases.
    keyCheck: r.keyCheck ? keyCheckView(r) : null,
    d1Growth: r.d1BytesPerOtp ? { bytesPerOtp: fmtInt(r.d1BytesPerOtp), gbMonthPerMillion: fmt((r.d1BytesPerOtp * 1e6) / 1e9, 1) } : null,
    requestPath: requestPathView(r),
    top: {
      first: { name: first[0], usd: fmt(first[1], 2) },
      second: { name: second[0], usd: fmt(second[1], 2) },
      share: pct((first[1] + second[1]) / total, 0),
      objectRowsWritten: fmt(s.doSqlRowsWritten + s.doKvWrites, 0),
      d1RowsWritten: fmt(s.d1RowsWritten, 0),
    },
  };
}

/** Issue 16's cost targets: object calls on the request path, object rows written, share of the SMS. */
function requestPathView(r) {
  const s = r.successful;
  const objectRows = s.doSqlRowsWritten + s.doKvWrites;
  // The objects every OTP writes to (its prefix's and its address's), apart from those whose
  // writes follow time and batches, not OTPs (the ledger's saves, budget leases, pacer and health
  // state): their share shrinks as a run (or production traffic) grows.
  const byClass = s.doRowsWrittenByClass ?? {};
  const perOtp = (byClass.PrefixGuard ?? 0) + (byClass.ClientIpGuard ?? 0);
  const hasSplit = Object.keys(byClass).length > 0;
  const calls = r.split.request.doRequests;
  return {
    calls: fmt(calls, 2),
    leaseCalls: fmt(r.split.request.leaseCalls ?? 0, 2),
    callsMet: calls <= 2.005,
    objectRows: fmt(objectRows, 2),
    objectRowsPerOtp: fmt(hasSplit ? perOtp : objectRows, 2),
    objectRowsUpkeep: fmt(hasSplit ? objectRows - perOtp : 0, 2),
    objectRowsUpkeepClasses: Object.entries(byClass)
      .filter(([name, rows]) => name !== 'PrefixGuard' && name !== 'ClientIpGuard' && rows > 0)
      .map(([name, rows]) => `${name} ${fmt(rows, 2)}`)
      .join(', '),
    objectRowsMet: (hasSplit ? perOtp : objectRows) <= 3.005,
    infraMet: r.infraShare <= 0.006,
    infraTimesTarget: fmt(r.infraShare / 0.006, 2),
    analyticsDataPoints: fmt(s.analyticsDataPoints ?? 0, 2),
  };
}

/**
 * What checking API keys cost over the whole run, read from the key statements themselves (the
 * lookup and the last-use mark), so that background delivery work in a phase does not blur it;
 * CPU from the difference of the two key-check phases, which nothing else separates.
 */
function keyCheckView(r) {
  const keyed = r.phases.filter((phase) => phase.label !== 'key check: no key (401)');
  const requests = keyed.reduce((total, phase) => total + phase.units, 0);
  const sum = (match, field) =>
    keyed.reduce(
      (total, phase) => total + Object.entries(phase.delta.d1.byStatement ?? {}).reduce((n, [label, entry]) => n + (match.test(label) ? entry[field] : 0), 0),
      0,
    );
  const lookup = /^SELECT k\.id, k\.app_id/;
  const lastUse = /^UPDATE api_keys SET last_used_at/;
  return {
    withoutKey: unitCounts(r.keyCheck.withoutKey),
    withKey: unitCounts(r.keyCheck.withKey),
    requests: fmtInt(requests),
    lookups: fmtInt(sum(lookup, 'count')),
    lookupRowsRead: fmtInt(sum(lookup, 'rowsRead')),
    lastUseWrites: fmtInt(sum(lastUse, 'count')),
    rowsReadPerRequest: fmt((sum(lookup, 'rowsRead') + sum(lastUse, 'rowsRead')) / requests, 3),
    rowsWrittenPerRequest: fmt(sum(lastUse, 'rowsWritten') / requests, 3),
    addedCpuMs: fmt(r.keyCheck.added.runtimeCpuMs, 2),
  };
}

/** One row of the per-unit table: what one OTP, poll or rejection costs in each billed unit. */
function unitCounts(counts) {
  return {
    workerInvocations: fmt(counts.workerInvocations, 2),
    doRequests: fmt(counts.doRequests, 2),
    alarmsScheduled: fmt(counts.alarmsScheduled, 2),
    doRowsRead: fmt(counts.doSqlRowsRead + counts.doKvReads, 1),
    doRowsWritten: fmt(counts.doSqlRowsWritten + counts.doKvWrites, 1),
    d1Statements: fmt(counts.d1Statements, 2),
    d1RowsRead: fmt(counts.d1RowsRead, 1),
    d1RowsWritten: fmt(counts.d1RowsWritten, 1),
    queueWrites: fmt(counts.queueWrites, 2),
    queueReads: fmt(counts.queueReads, 2),
    queueDeletes: fmt(counts.queueDeletes, 2),
    subrequests: fmt(counts.subrequests, 2),
    runtimeCpuMs: fmt(counts.runtimeCpuMs, 1),
  };
}

/** Where one successful OTP's D1 rows written go, statement by statement (from the meter). */
function rowsWrittenView(r) {
  if (!r.byStatement) return null;
  const statements = [];
  for (const [phase, byLabel] of Object.entries(r.byStatement)) {
    for (const [label, entry] of Object.entries(byLabel)) {
      if (entry.count > 0 && entry.rowsWritten > 0)
        statements.push({ phase, delivery: phase === 'delivery', label, perOtp: entry.rowsWritten / r.options.otps });
    }
  }
  if (!statements.length) return null;
  const total = statements.reduce((sum, row) => sum + row.perOtp, 0);
  return {
    statements: statements.map((row) => ({ ...row, label: row.label.replace(/\s+/g, ' ').replace(/\|/g, '\\|'), perOtp: fmt(row.perOtp, 1) })),
    total: fmt(total, 1),
  };
}

function perPhase(r, label, path) {
  const phase = r.phases.find((entry) => entry.label === label);
  if (!phase) return NaN;
  const value = path.split('.').reduce((node, key) => node?.[key], phase.delta);
  return value / phase.units;
}

/** Time to first SMS with the primary down, with failover and without (bench/failover.mjs). */
function failoverView(outcome) {
  const { withFailover: on, withoutFailover: off } = outcome.result;
  const seconds = (ms) => (ms === null || ms === undefined ? 'n/a' : fmt(ms / 1000, 1));
  return {
    minutes: fmt(outcome.seconds / 60, 1),
    note: outcome.result.note ?? null,
    requests: on.requests,
    ratePerSecond: on.ratePerSecond,
    on: {
      sent: on.sent,
      p50: seconds(on.firstSmsMs.p50),
      p99: seconds(on.firstSmsMs.p99),
      max: seconds(on.firstSmsMs.max),
      startMessagingCalls: on.providerCalls.startmessaging,
      twilioCalls: on.providerCalls.twilio,
      busy: pct(on.machineBusyShare, 0),
    },
    off: {
      requests: off.requests,
      sent: off.sent,
      expired: off.byStatus.expired ?? 0,
      failed: off.byStatus.failed ?? 0,
      endedP50: seconds(off.unsentEndedAfterMs.p50),
      endedMax: seconds(off.unsentEndedAfterMs.max),
      startMessagingCalls: off.providerCalls.startmessaging,
    },
    allSent: on.sent === on.requests,
  };
}
