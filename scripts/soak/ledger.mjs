/**
 * What the soak knows, shared by its traffic, its phases and its report: every request it created
 * and the status it last saw, the calls it timed, and the codes the stand-in received.
 */
import { percentile } from '../lib/stats.mjs';
import { FINAL } from './settings.mjs';

// Soak reports an empty sample as null (its tables print '-'), not NaN.
export const percentileOrNull = (sorted, p) => percentile(sorted, p, null);

export const ledger = {
  requests: new Map(), // requestId -> { id, phoneNumber, createdAt, status, finalAt, wrong }
  allIds: [],
  pending: [], // ids not yet seen final (random pick, swap-remove)
  verifiable: [], // ids seen `sent`, not yet verified, not being verified
  keyed: [], // { key, phoneNumber, requestId } of sends that carried an Idempotency-Key
  codes: new Map(), // provider idempotency key -> the code the stand-in received
  samples: [], // { phase, kind, status, ms, ok, detail }
  phase: 'ramp:0',
};

const pendingIndex = new Map();

export function addPending(id) {
  pendingIndex.set(id, ledger.pending.length);
  ledger.pending.push(id);
}

function removePending(id) {
  const { pending } = ledger;
  const index = pendingIndex.get(id);
  if (index === undefined) return;
  const last = pending.pop();
  if (last !== id) {
    pending[index] = last;
    pendingIndex.set(last, index);
  }
  pendingIndex.delete(id);
}

export function noteStatus(id, status) {
  const request = ledger.requests.get(id);
  if (!request || request.status === status) return;
  request.status = status;
  if (FINAL.has(status) && !request.finalAt) {
    request.finalAt = Date.now();
    removePending(id);
  }
  if (status === 'sent' && !request.verifyQueued) {
    request.verifyQueued = true;
    ledger.verifiable.push(id);
  }
}

/** Times one call and records it; `check` says whether the answer was the expected one. */
export async function timed(kind, call, check) {
  const { samples } = ledger;
  const start = performance.now();
  let answer;
  try {
    answer = await call();
  } catch (error) {
    samples.push({ phase: ledger.phase, kind, status: 'error', ms: performance.now() - start, ok: false, detail: String(error?.name ?? error) });
    return null;
  }
  const ms = performance.now() - start;
  let detail = '';
  let ok = false;
  try {
    const verdict = check(answer);
    ok = verdict === true;
    if (!ok) detail = typeof verdict === 'string' ? verdict : answer.text.slice(0, 160);
  } catch (error) {
    detail = String(error?.message ?? error);
  }
  samples.push({ phase: ledger.phase, kind, status: answer.status, ms, ok, detail: answer.status >= 500 ? `${detail} ${answer.text.slice(0, 200)}` : detail });
  return answer;
}

export function summarize(label, seconds) {
  const mine = ledger.samples.filter((sample) => sample.phase === label);
  const latencies = mine.map((sample) => sample.ms).sort((a, b) => a - b);
  return {
    label,
    calls: mine.length,
    rps: mine.length / seconds,
    p50: percentileOrNull(latencies, 50),
    p99: percentileOrNull(latencies, 99),
    errors5xx: mine.filter((sample) => typeof sample.status === 'number' && sample.status >= 500).length,
    transport: mine.filter((sample) => sample.status === 'error').length,
    unexpected: mine.filter((sample) => !sample.ok).length,
  };
}
