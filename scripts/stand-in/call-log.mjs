/**
 * Every call the stand-in received, in arrival order (sends and status checks share one sequence),
 * what each idempotency key led to, the busiest second, and the counters /__stats reports.
 */

export function createCallLog() {
  /** @type {Array<object>} every POST /otp/send, in arrival order */
  let calls = [];
  /** @type {Array<{ seq: number, at: number, messageId: string, status: number }>} every GET /messages/:messageId */
  let statusCalls = [];
  /** key (account-scoped) -> { newSms, otps:Set, phones:Set } */
  let perKey = new Map();
  let recentArrivals = [];
  let peakRps = 0;
  let seq = 0;

  return {
    nextSeq: () => ++seq,
    addSend(record) {
      calls.push(record);
    },
    addStatusCheck(record) {
      statusCalls.push(record);
    },

    /** Counts an arrival towards the most calls seen in any one second. */
    noteArrival(now) {
      recentArrivals.push(now);
      let drop = 0;
      while (drop < recentArrivals.length && recentArrivals[drop] <= now - 1000) drop += 1;
      if (drop) recentArrivals = recentArrivals.slice(drop);
      peakRps = Math.max(peakRps, recentArrivals.length);
    },

    keyStats(account, key) {
      const scoped = `${account}\u0000${key}`;
      let entry = perKey.get(scoped);
      if (!entry) {
        entry = { newSms: 0, otps: new Set(), phones: new Set() };
        perKey.set(scoped, entry);
      }
      return entry;
    },

    /** Copies, so a caller cannot change the record. */
    calls: () => calls.map((call) => ({ ...call })),
    statusCalls: () => statusCalls.map((call) => ({ ...call })),
    /** The calls after sequence number `since`, as /__calls answers them. */
    since: (since) => ({ calls: calls.filter((call) => call.seq > since), statusCalls: statusCalls.filter((call) => call.seq > since) }),

    /** `delivered`: messages sent so far; `config`: the options, echoed back. */
    stats({ delivered, config }) {
      const byStatus = {};
      const byOutcome = {};
      for (const call of calls) {
        const status = call.status === null ? (call.outcome === 'pending' ? 'pending' : 'no_answer') : String(call.status);
        byStatus[status] = (byStatus[status] ?? 0) + 1;
        byOutcome[call.outcome] = (byOutcome[call.outcome] ?? 0) + 1;
      }
      let duplicates = 0;
      let inconsistentKeys = 0;
      for (const entry of perKey.values()) {
        if (entry.newSms > 1) duplicates += 1;
        if (entry.otps.size > 1 || entry.phones.size > 1) inconsistentKeys += 1;
      }
      return {
        calls: calls.length,
        byStatus,
        byOutcome,
        distinctKeys: new Set(calls.map((call) => call.idempotencyKey).filter((key) => key !== null)).size,
        delivered,
        replays: byOutcome.replay ?? 0,
        conflicts: byOutcome.conflict ?? 0,
        duplicates,
        inconsistentKeys,
        peakRps,
        rateLimited: byStatus['429'] ?? 0,
        statusChecks: statusCalls.length,
        statusChecksRateLimited: statusCalls.filter((call) => call.status === 429).length,
        failed500: byStatus['500'] ?? 0,
        hangs: calls.filter((call) => call.outcome.startsWith('hang')).length,
        config,
      };
    },

    reset() {
      calls = [];
      statusCalls = [];
      perKey = new Map();
      recentArrivals = [];
      peakRps = 0;
    },
  };
}
