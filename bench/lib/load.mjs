/**
 * A closed-loop load generator on node:http keep-alive sockets: `concurrency` connections, each
 * sending its next request as soon as the previous answer arrived, for a fixed time after a
 * warm-up. Every request is built by the caller, so each can carry its own phone number and
 * client address. Latency is measured from just before the request is written to the end of the
 * answer's body.
 */
import http from 'node:http';
import { percentile } from '../../scripts/lib/stats.mjs';

export async function runLoad({ base, concurrency, durationMs, warmupMs = 1000, build, timeoutMs = 30_000 }) {
  const target = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const latencies = [];
  const statuses = {};
  let errors = 0;
  let sequence = 0;
  let measuring = false;
  let measuredFrom = 0;
  const startedAt = Date.now();
  const stopAt = startedAt + warmupMs + durationMs;
  const warmEndsAt = startedAt + warmupMs;

  const once = (spec) => new Promise((done) => timedRequest(agent, target, spec, timeoutMs, (status, ms) => done({ status, ms })));

  const worker = async () => {
    // Bounded by time and, as a safety net, by count.
    for (let i = 0; i < 10_000_000 && Date.now() < stopAt; i += 1) {
      const spec = build(sequence++);
      const result = await once(spec);
      if (!measuring && Date.now() >= warmEndsAt) {
        measuring = true;
        measuredFrom = Date.now();
      }
      if (!measuring) continue;
      if (result.status === null) errors += 1;
      else statuses[result.status] = (statuses[result.status] ?? 0) + 1;
      latencies.push(result.ms);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const measuredMs = Date.now() - (measuredFrom || warmEndsAt);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    concurrency,
    requests: latencies.length,
    sent: sequence,
    errors,
    statuses,
    seconds: measuredMs / 1000,
    throughput: latencies.length / (measuredMs / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/**
 * Open-loop load: requests start at a fixed rate whatever the answers do, as independent users
 * would. At a rate both systems can sustain, latency here is each request's own cost, not time
 * spent queueing behind other requests.
 */
export async function runOpenLoop({ base, ratePerSecond, durationMs, build, timeoutMs = 30_000, maxInFlight = 512 }) {
  const target = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: maxInFlight, maxFreeSockets: maxInFlight });
  const latencies = [];
  const statuses = {};
  let errors = 0;
  let shed = 0;
  let inFlight = 0;
  const interval = 1000 / ratePerSecond;
  const total = Math.floor((durationMs / 1000) * ratePerSecond);
  const startedAt = performance.now();
  const pending = [];
  for (let index = 0; index < total; index += 1) {
    const wait = startedAt + index * interval - performance.now();
    if (wait > 0) await new Promise((done) => setTimeout(done, wait));
    if (inFlight >= maxInFlight) {
      shed += 1;
      continue;
    }
    inFlight += 1;
    pending.push(
      new Promise((done) =>
        timedRequest(agent, target, build(index), timeoutMs, (status, ms) => {
          inFlight -= 1;
          if (status === null) errors += 1;
          else statuses[status] = (statuses[status] ?? 0) + 1;
          latencies.push(ms);
          done();
        }),
      ),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    ratePerSecond,
    requests: latencies.length,
    shed,
    errors,
    statuses,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/**
 * Sends one request built by the caller (`{ method = 'POST', path, headers, body }`, body JSON
 * unless a string) and calls `finish(status, ms)` once its answer's body has been read, or with
 * status null on an error or after `timeoutMs`. ms runs from just before the request is written.
 */
function timedRequest(agent, target, spec, timeoutMs, finish) {
  const payload = spec.body === undefined ? undefined : typeof spec.body === 'string' ? spec.body : JSON.stringify(spec.body);
  const begin = performance.now();
  const end = (status) => finish(status, performance.now() - begin);
  const req = http.request(
    {
      method: spec.method ?? 'POST',
      host: target.hostname,
      port: target.port,
      path: spec.path,
      agent,
      headers: {
        ...(payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }),
        ...spec.headers,
      },
      timeout: timeoutMs,
    },
    (res) => {
      res.on('data', () => {});
      res.on('end', () => end(res.statusCode));
      res.on('error', () => end(null));
    },
  );
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => end(null));
  if (payload !== undefined) req.write(payload);
  req.end();
}
