#!/usr/bin/env node
/**
 * A local stand-in for StartMessaging's SMS OTP API (see docs/ or the provider sheet), for
 * end-to-end tests and benchmarks. Dependency-free: node:http only.
 *
 *   POST /otp/send             the send endpoint, with idempotency, injected faults and a rate limit
 *   GET  /messages/:messageId  delivery status of a message this stand-in "sent" (recorded; rate limited
 *                              like sends with limitStatusChecks)
 *   GET  /__stats              counters (see stats() below)
 *   GET  /__calls              every recorded /otp/send call (?since=<seq> for the newer ones), and
 *                              `statusCalls`: every GET /messages/:messageId
 *   POST /__reset              forget every call, message and idempotency key (and runtime scripts)
 *   POST /__script             { "<phoneNumber>": [step, ...], ... }: script those numbers (see below)
 *
 * Programmatic use:
 *   import { startStandIn } from './startmessaging-stand-in.mjs';
 *   const sm = await startStandIn({ latencyMs: 50, failRate: 0.3, seed: 42 });
 *   ... sm.url, sm.stats(), sm.calls() ...
 *   await sm.close();
 *
 * CLI (prints {"url":...,"port":...} as one JSON line on stdout once listening):
 *   node scripts/startmessaging-stand-in.mjs --port 0 --latency-ms 100 --fail-rate 0.3 --rate-limit 100 [--seed 7]
 *     [--hang-rate 0.05] [--hang-after-send] [--latency-jitter-ms 20] [--host 127.0.0.1]
 *     [--allow-missing-key] [--limit-status-checks] [--log] [--script '{"+15550100001":["500","ok"]}']
 *
 * Order of checks for one POST /otp/send (each outcome is recorded with the HTTP status answered):
 *   1. latency (latencyMs plus up to latencyJitterMs) is waited before any answer;
 *   2. X-API-Key missing or empty                   -> 401
 *   3. the account's token bucket is empty           -> 429, Retry-After: 1
 *   4. hangRate draw (before doing anything)         -> never answers (unless hangAfterSend, see below)
 *   5. failRate draw (before doing anything)         -> 500, no side effect
 *   6. body validation                               -> 400 (413 for bodies over 64 KiB)
 *   7. idempotency: known key, same phone and otp    -> the original 201 answer again, no new SMS
 *                   known key, other phone or otp    -> 409
 *   8. otherwise a new SMS                           -> 201 and the key is remembered
 * With hangAfterSend, a hanging call first performs step 6-8 (so an SMS may be sent) and only
 * then withholds its answer: the hard case for a client's idempotency.
 * The random draws come from a seeded PRNG (mulberry32) when `seed` is given, Math.random otherwise;
 * every call consumes exactly two draws, so a seeded run is reproducible for a given arrival order.
 * Idempotency keys are scoped per account (API key). The key is read from the body field
 * `idempotencyKey`, or else from the `Idempotency-Key` / `X-Idempotency-Key` header; a header that
 * disagrees with the body field is a 400 (`IDEMPOTENCY_KEY_MISMATCH`).
 *
 * Scripted faults: a phone number with a script (option `script`, CLI `--script <json>`, or at run
 * time `POST /__script`) gets its steps instead of steps 3-5 above, one step per call to that
 * number, in order; the last step repeats. The random draws are still consumed, so the unscripted
 * traffic of a seeded run stays reproducible. Steps:
 *   "ok"               steps 6-8 as usual (a new SMS, or the original answer for a known key)
 *   "500", "503", "400", "401", "402", "409", ... (any 4xx/5xx but 429)
 *                      that status with an error body, no side effect; "503:7" adds Retry-After: 7
 *   "429"              rate limited with no Retry-After header and no retry_after in the body
 *   "429:<seconds>"    rate limited with Retry-After: <seconds>
 *   "hang"             never answers, no side effect
 *   "hang-after-send"  steps 6-8 (an SMS may go out), then never answers
 *   "malformed"        steps 6-8, then a 201 whose body is HTML instead of JSON
 *   "truncated"        steps 6-8, then a 201 whose JSON body is cut off mid-way
 *   "wrong-shape"      steps 6-8, then a 201 whose body is JSON in no documented shape
 * Each call records the step it got (`step`, null for unscripted numbers).
 *
 * This file starts the server and holds the CLI; scripts/stand-in/ has one module per job:
 * options, routes (request routing), send-handler (POST /otp/send), faults (which answer a send
 * gets), sends (validation, idempotency, new SMS), send-body, script (scripted faults),
 * rate-limit (token buckets), message-status (GET /messages/:id), call-log (/__calls, /__stats),
 * http-io.
 */
import { createServer } from 'node:http';
import { createCallLog } from './stand-in/call-log.mjs';
import { isMainModule, parseStandInArgs } from './stand-in/cli.mjs';
import { createMessageStatusHandler } from './stand-in/message-status.mjs';
import { readOptions } from './stand-in/options.mjs';
import { createRateLimiter } from './stand-in/rate-limit.mjs';
import { createRouter } from './stand-in/routes.mjs';
import { createScriptBook } from './stand-in/script.mjs';
import { createSendHandler } from './stand-in/send-handler.mjs';
import { createSends } from './stand-in/sends.mjs';

export { parseStep } from './stand-in/script.mjs';

/**
 * Starts the stand-in. Options (all optional):
 *   port (0 = any free port), host ('127.0.0.1'),
 *   latencyMs, latencyJitterMs, failRate, hangRate, hangAfterSend, rateLimit (requests per second
 *   per account; 0 = unlimited), rateBurst (bucket size; defaults to rateLimit), limitStatusChecks
 *   (status checks draw on the same bucket, as every call does at the real provider; false), seed,
 *   requireIdempotencyKey (true), log (a function receiving one line per call, or true for stderr),
 *   script ({ phoneNumber: [step, ...] }, see the header).
 * Resolves to { url, port, stats(), calls(), statusCalls(), reset(), setScript(script), close() }.
 */
export async function startStandIn(options = {}) {
  const settings = readOptions(options);
  const scripts = createScriptBook(settings.baseScript);
  const callLog = createCallLog();
  const limiter = createRateLimiter(settings);
  const sends = createSends({ callLog, requireIdempotencyKey: settings.requireIdempotencyKey });

  const timers = new Set();
  const sockets = new Set();

  function later(ms, fn) {
    if (ms <= 0) return void fn();
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  }

  const stats = () => callLog.stats({ delivered: sends.messageCount(), config: settings.config });

  function reset() {
    callLog.reset();
    sends.reset();
    limiter.reset();
    scripts.reset();
  }

  const server = createServer(
    createRouter({
      handleSend: createSendHandler({ settings, callLog, sends, scripts, limiter, later }),
      handleMessage: createMessageStatusHandler({ settings, callLog, sends, limiter }),
      stats,
      callLog,
      scripts,
      reset,
    }),
  );
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const host = settings.host;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address();
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing;
  return {
    url,
    port,
    stats,
    calls: callLog.calls,
    statusCalls: callLog.statusCalls,
    reset,
    setScript: scripts.setScript,
    close() {
      closing ??= new Promise((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections?.();
      });
      return closing;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CLI

const VALUE_FLAGS = {
  '--port': ['port', Number],
  '--host': ['host', String],
  '--latency-ms': ['latencyMs', Number],
  '--latency-jitter-ms': ['latencyJitterMs', Number],
  '--fail-rate': ['failRate', Number],
  '--hang-rate': ['hangRate', Number],
  '--rate-limit': ['rateLimit', Number],
  '--rate-burst': ['rateBurst', Number],
  '--seed': ['seed', (value) => (/^\d+$/.test(value) ? Number(value) : value)],
  '--script': ['script', (value) => JSON.parse(value)],
};
const SWITCHES = {
  '--allow-missing-key': ['requireIdempotencyKey', false],
  '--hang-after-send': ['hangAfterSend', true],
  '--limit-status-checks': ['limitStatusChecks', true],
  '--log': ['log', true],
};

if (isMainModule(import.meta.url)) {
  let options;
  try {
    options = parseStandInArgs(process.argv.slice(2), { values: VALUE_FLAGS, switches: SWITCHES });
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  if (options.help) {
    process.stdout.write(
      'usage: node scripts/startmessaging-stand-in.mjs [--port 0] [--host 127.0.0.1] [--latency-ms N] [--latency-jitter-ms N]\n' +
        '         [--fail-rate 0..1] [--hang-rate 0..1] [--hang-after-send] [--rate-limit RPS] [--rate-burst N]\n' +
        '         [--seed S] [--allow-missing-key] [--limit-status-checks] [--log] [--script \'{"<phoneNumber>":["500","ok"]}\']\n',
    );
    process.exit(0);
  }
  const standIn = await startStandIn(options);
  process.stdout.write(`${JSON.stringify({ url: standIn.url, port: standIn.port, pid: process.pid })}\n`);
  const stop = async (signal) => {
    process.stderr.write(`${JSON.stringify({ signal, stats: standIn.stats() })}\n`);
    await standIn.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
