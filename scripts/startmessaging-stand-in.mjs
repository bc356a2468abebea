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
 */
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mulberry32, seedToInt } from './lib/random.mjs';

const E164 = /^\+[1-9]\d{6,14}$/;
const OTP = /^\d{4,8}$/;
const MAX_BODY_BYTES = 64 * 1024;
const MAX_KEY_LENGTH = 255;

function rate(name, value) {
  const number = Number(value ?? 0);
  if (!Number.isFinite(number) || number < 0 || number > 1) throw new RangeError(`${name} must be between 0 and 1, got ${value}`);
  return number;
}

function nonNegative(name, value) {
  const number = Number(value ?? 0);
  if (!Number.isFinite(number) || number < 0) throw new RangeError(`${name} must be a non-negative number, got ${value}`);
  return number;
}

const SIMPLE_STEPS = new Set(['ok', 'hang', 'hang-after-send', 'malformed', 'truncated', 'wrong-shape']);

/** Checks one script step; returns it parsed as { kind, status?, retryAfter? }. */
export function parseStep(step) {
  if (typeof step !== 'string') throw new TypeError(`a script step must be a string, got ${JSON.stringify(step)}`);
  if (SIMPLE_STEPS.has(step)) return { kind: step };
  const match = /^([45]\d\d)(?::(\d{1,6}))?$/.exec(step);
  if (!match) throw new RangeError(`unknown script step: ${JSON.stringify(step)}`);
  const status = Number(match[1]);
  const retryAfter = match[2] === undefined ? null : Number(match[2]);
  return { kind: 'status', status, retryAfter };
}

/** Validates { phoneNumber: [step, ...] }; returns a Map of phoneNumber -> parsed steps. */
function parseScript(script) {
  const parsed = new Map();
  if (script === undefined || script === null) return parsed;
  if (typeof script !== 'object' || Array.isArray(script)) throw new TypeError('a script is an object { phoneNumber: [step, ...] }');
  for (const [phoneNumber, steps] of Object.entries(script)) {
    if (!Array.isArray(steps) || steps.length === 0) throw new TypeError(`the script of ${phoneNumber} must be a non-empty array of steps`);
    parsed.set(phoneNumber, steps.map((step) => ({ step, ...parseStep(step) })));
  }
  return parsed;
}

function id(prefix) {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

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
  const host = options.host ?? '127.0.0.1';
  const latencyMs = nonNegative('latencyMs', options.latencyMs);
  const latencyJitterMs = nonNegative('latencyJitterMs', options.latencyJitterMs);
  const failRate = rate('failRate', options.failRate);
  const hangRate = rate('hangRate', options.hangRate);
  const hangAfterSend = Boolean(options.hangAfterSend);
  const rateLimit = nonNegative('rateLimit', options.rateLimit);
  const rateBurst = options.rateBurst === undefined ? Math.max(1, rateLimit) : nonNegative('rateBurst', options.rateBurst);
  const limitStatusChecks = Boolean(options.limitStatusChecks);
  const requireIdempotencyKey = options.requireIdempotencyKey ?? true;
  const random = options.seed === undefined || options.seed === null ? Math.random : mulberry32(seedToInt(options.seed));
  const log = options.log === true ? (line) => process.stderr.write(`${line}\n`) : typeof options.log === 'function' ? options.log : null;
  const baseScript = parseScript(options.script);
  /** phoneNumber -> parsed steps; the options' scripts plus those added at run time */
  let scripts = new Map(baseScript);
  /** phoneNumber -> calls that number's script has answered so far */
  let scriptProgress = new Map();

  /** @type {Array<object>} every POST /otp/send, in arrival order */
  let calls = [];
  /** @type {Array<{ seq: number, at: number, messageId: string, status: number }>} every GET /messages/:messageId */
  let statusCalls = [];
  /** account -> key -> { phoneNumber, otp, status, body, messageId } (first successful send only) */
  let remembered = new Map();
  /** messageId -> { messageId, status, deliveredAt, phoneNumber, idempotencyKey } */
  let messages = new Map();
  /** key (account-scoped) -> { newSms, otps:Set, phones:Set } */
  let perKey = new Map();
  /** account -> { tokens, updatedAt } */
  let buckets = new Map();
  let recentArrivals = [];
  let peakRps = 0;
  let seq = 0;

  const timers = new Set();
  const sockets = new Set();

  function takeToken(account, now) {
    if (!rateLimit) return true;
    let bucket = buckets.get(account);
    if (!bucket) {
      bucket = { tokens: rateBurst, updatedAt: now };
      buckets.set(account, bucket);
    }
    bucket.tokens = Math.min(rateBurst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * rateLimit);
    bucket.updatedAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return true;
    }
    return false;
  }

  function noteArrival(now) {
    recentArrivals.push(now);
    let drop = 0;
    while (drop < recentArrivals.length && recentArrivals[drop] <= now - 1000) drop += 1;
    if (drop) recentArrivals = recentArrivals.slice(drop);
    peakRps = Math.max(peakRps, recentArrivals.length);
  }

  function later(ms, fn) {
    if (ms <= 0) return void fn();
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  }

  function envelope(statusCode, extra) {
    return { success: statusCode < 400, statusCode, requestId: id('req'), timestamp: new Date().toISOString(), ...extra };
  }

  function errorBody(statusCode, code, message, extra = {}) {
    return envelope(statusCode, { error: { code, message, ...extra } });
  }

  function sendJson(res, status, body, headers = {}) {
    sendText(res, status, JSON.stringify(body), 'application/json; charset=utf-8', headers);
  }

  function sendText(res, status, text, contentType, headers = {}) {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  /** The next script step for a call to `phoneNumber`, or null when the number has no script. */
  function nextStep(phoneNumber) {
    const steps = phoneNumber === null ? undefined : scripts.get(phoneNumber);
    if (!steps) return null;
    const used = scriptProgress.get(phoneNumber) ?? 0;
    scriptProgress.set(phoneNumber, used + 1);
    return steps[Math.min(used, steps.length - 1)];
  }

  function readBody(req) {
    return new Promise((resolve) => {
      const chunks = [];
      let size = 0;
      let tooLarge = false;
      req.on('data', (chunk) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) tooLarge = true;
        else chunks.push(chunk);
      });
      req.on('end', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), tooLarge }));
      req.on('error', () => resolve({ text: '', tooLarge, aborted: true }));
    });
  }

  /** Validates a send body; returns { value } or { error: [code, message] }. */
  function validate(text, headers) {
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      return { error: ['INVALID_JSON', 'The request body is not valid JSON'] };
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) return { error: ['INVALID_BODY', 'The request body must be a JSON object'] };
    const { phoneNumber, variables, idempotencyKey } = body;
    if (typeof phoneNumber !== 'string' || phoneNumber === '') return { error: ['MISSING_PHONE_NUMBER', 'phoneNumber is required'] };
    if (!E164.test(phoneNumber)) return { error: ['INVALID_PHONE_NUMBER', 'phoneNumber must be in E.164 format'] };
    if (!variables || typeof variables !== 'object' || Array.isArray(variables)) return { error: ['MISSING_VARIABLES', 'variables.otp is required'] };
    if (variables.otp === undefined || variables.otp === null || variables.otp === '') return { error: ['MISSING_OTP', 'variables.otp is required'] };
    if (typeof variables.otp !== 'string' || !OTP.test(variables.otp)) return { error: ['INVALID_OTP', 'variables.otp must be a string of 4 to 8 digits'] };
    const headerKey = headers['idempotency-key'] ?? headers['x-idempotency-key'];
    if (idempotencyKey !== undefined && (typeof idempotencyKey !== 'string' || idempotencyKey === '' || idempotencyKey.length > MAX_KEY_LENGTH)) {
      return { error: ['INVALID_IDEMPOTENCY_KEY', `idempotencyKey must be a string of 1 to ${MAX_KEY_LENGTH} characters`] };
    }
    if (idempotencyKey !== undefined && headerKey !== undefined && headerKey !== idempotencyKey) {
      return { error: ['IDEMPOTENCY_KEY_MISMATCH', 'The Idempotency-Key header differs from the idempotencyKey field'] };
    }
    const key = idempotencyKey ?? headerKey;
    if (key === undefined && requireIdempotencyKey) return { error: ['MISSING_IDEMPOTENCY_KEY', 'idempotencyKey is required'] };
    if (key !== undefined && (key === '' || key.length > MAX_KEY_LENGTH)) {
      return { error: ['INVALID_IDEMPOTENCY_KEY', `idempotencyKey must be a string of 1 to ${MAX_KEY_LENGTH} characters`] };
    }
    return { value: { phoneNumber, otp: variables.otp, key } };
  }

  /** Records what a parseable body carried, for stats and audits, whatever the answer was. */
  function peek(text, headers) {
    try {
      const body = JSON.parse(text);
      const headerKey = headers['idempotency-key'] ?? headers['x-idempotency-key'] ?? null;
      return {
        idempotencyKey: typeof body?.idempotencyKey === 'string' ? body.idempotencyKey : headerKey,
        bodyIdempotencyKey: typeof body?.idempotencyKey === 'string' ? body.idempotencyKey : null,
        headerIdempotencyKey: headerKey,
        phoneNumber: typeof body?.phoneNumber === 'string' ? body.phoneNumber : null,
        otp: typeof body?.variables?.otp === 'string' || typeof body?.variables?.otp === 'number' ? String(body.variables.otp) : null,
      };
    } catch {
      return { idempotencyKey: null, bodyIdempotencyKey: null, headerIdempotencyKey: null, phoneNumber: null, otp: null };
    }
  }

  function keyStats(account, key) {
    const scoped = `${account}\u0000${key}`;
    let entry = perKey.get(scoped);
    if (!entry) {
      entry = { newSms: 0, otps: new Set(), phones: new Set() };
      perKey.set(scoped, entry);
    }
    return entry;
  }

  /** Steps 6-8: validation, idempotency, new SMS. Returns [status, body, headers?]. */
  function process_(record, account, text, tooLarge, headers) {
    if (tooLarge) {
      record.outcome = 'bad_request';
      return [413, errorBody(413, 'PAYLOAD_TOO_LARGE', `The request body exceeds ${MAX_BODY_BYTES} bytes`)];
    }
    const checked = validate(text, headers);
    if (checked.error) {
      record.outcome = 'bad_request';
      record.errorCode = checked.error[0];
      return [400, errorBody(400, checked.error[0], checked.error[1])];
    }
    const { phoneNumber, otp, key } = checked.value;
    const accountKeys = remembered.get(account) ?? new Map();
    remembered.set(account, accountKeys);
    const known = key === undefined ? undefined : accountKeys.get(key);
    if (known) {
      if (known.phoneNumber !== phoneNumber || known.otp !== otp) {
        record.outcome = 'conflict';
        return [409, errorBody(409, 'IDEMPOTENCY_KEY_REUSED', 'This idempotency key was already used with different parameters')];
      }
      record.outcome = 'replay';
      record.messageId = known.messageId;
      return [known.status, known.body, { 'Idempotent-Replayed': 'true' }];
    }
    const messageId = id('msg');
    const body = envelope(201, { data: { otpRequestId: id('otp_req'), messageId, status: 'queued' } });
    if (key !== undefined) accountKeys.set(key, { phoneNumber, otp, status: 201, body, messageId });
    messages.set(messageId, { messageId, status: 'delivered', deliveredAt: new Date().toISOString(), phoneNumber, idempotencyKey: key ?? null });
    if (key !== undefined) keyStats(account, key).newSms += 1;
    record.outcome = 'sent';
    record.newSms = true;
    record.messageId = messageId;
    return [201, body];
  }

  async function handleSend(req, res) {
    const arrivedAt = Date.now();
    noteArrival(arrivedAt);
    const { text, tooLarge } = await readBody(req);
    const apiKey = typeof req.headers['x-api-key'] === 'string' ? req.headers['x-api-key'].trim() : '';
    const account = apiKey || '(none)';
    const record = {
      seq: ++seq,
      at: arrivedAt,
      time: new Date(arrivedAt).toISOString(),
      ...peek(text, req.headers),
      status: null,
      outcome: 'pending',
      messageId: null,
      durationMs: null,
      newSms: false,
      clientGone: false,
      step: null,
    };
    calls.push(record);
    res.on('close', () => {
      if (!res.writableFinished) record.clientGone = true;
    });
    if (record.idempotencyKey !== null) {
      const entry = keyStats(account, record.idempotencyKey);
      if (record.otp !== null) entry.otps.add(record.otp);
      if (record.phoneNumber !== null) entry.phones.add(record.phoneNumber);
    }

    // Both draws happen for every call, so a seeded sequence does not depend on earlier outcomes.
    const hangDraw = random();
    const failDraw = random();
    const scripted = nextStep(record.phoneNumber);
    record.step = scripted?.step ?? null;
    // A scripted number's behaviour is all in its script: it does not draw on the rate limit.
    const allowed = apiKey && !scripted ? takeToken(account, arrivedAt) : true;
    const delay = latencyMs + (latencyJitterMs ? random() * latencyJitterMs : 0);

    const answer = (status, body, headers, rawText) => {
      record.status = status;
      record.durationMs = Date.now() - arrivedAt;
      if (rawText === undefined) sendJson(res, status, body, headers);
      else sendText(res, status, rawText, rawText.startsWith('<') ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8', headers);
      log?.(`${record.time} ${status} ${record.outcome} key=${record.idempotencyKey ?? '-'} phone=${record.phoneNumber ?? '-'}${record.step ? ` step=${record.step}` : ''}`);
    };

    const withhold = () => {
      log?.(`${record.time} (no answer) ${record.outcome} key=${record.idempotencyKey ?? '-'}`);
    };

    /** Steps 6-8 for a scripted number, then the answer its step calls for. */
    const runScripted = () => {
      const { kind, status, retryAfter } = scripted;
      if (kind === 'status') {
        record.outcome = status === 429 ? 'rate_limited' : status >= 500 ? 'failed' : `refused_${status}`;
        const headers = retryAfter === null ? {} : { 'Retry-After': String(retryAfter) };
        const body =
          status === 429
            ? errorBody(429, 'RATE_LIMITED', 'Too many requests')
            : errorBody(status, `SCRIPTED_${status}`, `Scripted answer ${status}`);
        return answer(status, body, headers);
      }
      if (kind === 'hang') {
        record.outcome = 'hang';
        return withhold();
      }
      const [processedStatus, body, headers] = process_(record, account, text, tooLarge, req.headers);
      if (kind === 'hang-after-send') {
        record.outcome = `hang_after_${record.outcome}`;
        return withhold();
      }
      if (kind === 'ok' || processedStatus >= 300) return answer(processedStatus, body, headers);
      record.outcome = `${kind}_${record.outcome}`;
      const full = JSON.stringify(body);
      const garbled = {
        malformed: '<html><body><h1>201 Created</h1></body></html>',
        truncated: full.slice(0, Math.floor(full.length / 2)),
        'wrong-shape': JSON.stringify({ success: true, data: 'queued' }),
      }[kind];
      return answer(processedStatus, body, headers, garbled);
    };

    later(delay, () => {
      // A client that gave up meanwhile does not stop the work (as with a real provider): the
      // call is processed and recorded; only the answer is lost.
      if (res.destroyed) record.clientGone = true;
      if (!apiKey) {
        record.outcome = 'unauthorized';
        return answer(401, errorBody(401, 'UNAUTHORIZED', 'Missing or invalid API key'));
      }
      if (scripted) return runScripted();
      if (!allowed) {
        record.outcome = 'rate_limited';
        return answer(429, errorBody(429, 'RATE_LIMITED', 'Too many requests', { retry_after: 1 }), { 'Retry-After': '1' });
      }
      if (hangDraw < hangRate) {
        if (hangAfterSend) process_(record, account, text, tooLarge, req.headers);
        record.outcome = hangAfterSend ? `hang_after_${record.outcome}` : 'hang';
        log?.(`${record.time} (no answer) ${record.outcome} key=${record.idempotencyKey ?? '-'}`);
        return; // never answered; close() destroys the socket
      }
      if (failDraw < failRate) {
        record.outcome = 'failed';
        return answer(500, errorBody(500, 'INTERNAL_ERROR', 'Something went wrong, please retry'));
      }
      const [status, body, headers] = process_(record, account, text, tooLarge, req.headers);
      answer(status, body, headers);
    });
  }

  function handleMessage(req, res, messageId) {
    const arrivedAt = Date.now();
    noteArrival(arrivedAt);
    const record = { seq: ++seq, at: arrivedAt, messageId, status: null };
    statusCalls.push(record);
    const answer = (status, body, headers) => {
      record.status = status;
      sendJson(res, status, body, headers);
    };
    const apiKey = typeof req.headers['x-api-key'] === 'string' ? req.headers['x-api-key'].trim() : '';
    if (!apiKey) return answer(401, errorBody(401, 'UNAUTHORIZED', 'Missing or invalid API key'));
    if (limitStatusChecks && !takeToken(apiKey, arrivedAt)) {
      return answer(429, errorBody(429, 'RATE_LIMITED', 'Too many requests', { retry_after: 1 }), { 'Retry-After': '1' });
    }
    const message = messages.get(messageId);
    if (!message) return answer(404, errorBody(404, 'NOT_FOUND', 'No such message'));
    return answer(200, envelope(200, { data: { messageId, status: message.status, deliveredAt: message.deliveredAt, error: null } }));
  }

  function stats() {
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
      delivered: messages.size,
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
      config: { latencyMs, latencyJitterMs, failRate, hangRate, hangAfterSend, rateLimit, rateBurst, limitStatusChecks, seed: options.seed ?? null },
    };
  }

  function reset() {
    calls = [];
    statusCalls = [];
    remembered = new Map();
    messages = new Map();
    perKey = new Map();
    buckets = new Map();
    recentArrivals = [];
    peakRps = 0;
    scripts = new Map(baseScript);
    scriptProgress = new Map();
  }

  /** Adds or replaces the scripts of the given numbers; their progress starts afresh. */
  function setScript(script) {
    for (const [phoneNumber, steps] of parseScript(script)) {
      scripts.set(phoneNumber, steps);
      scriptProgress.delete(phoneNumber);
    }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/otp/send') {
      if (req.method !== 'POST') return sendJson(res, 405, errorBody(405, 'METHOD_NOT_ALLOWED', 'Use POST'), { Allow: 'POST' });
      return void handleSend(req, res).catch((error) => {
        sendJson(res, 500, errorBody(500, 'STAND_IN_BUG', String(error?.stack ?? error)));
      });
    }
    const message = /^\/messages\/([^/]+)$/.exec(path);
    if (message && req.method === 'GET') return handleMessage(req, res, decodeURIComponent(message[1]));
    if (path === '/__stats' && req.method === 'GET') return sendJson(res, 200, stats());
    if (path === '/__calls' && req.method === 'GET') {
      const since = Number(url.searchParams.get('since') ?? 0) || 0;
      return sendJson(res, 200, { calls: calls.filter((call) => call.seq > since), statusCalls: statusCalls.filter((call) => call.seq > since) });
    }
    if (path === '/__reset' && req.method === 'POST') {
      reset();
      return sendJson(res, 200, { ok: true });
    }
    if (path === '/__script' && req.method === 'POST') {
      return void readBody(req).then(({ text }) => {
        try {
          setScript(JSON.parse(text));
          sendJson(res, 200, { ok: true, scripted: scripts.size });
        } catch (error) {
          sendJson(res, 400, errorBody(400, 'INVALID_SCRIPT', String(error?.message ?? error)));
        }
      });
    }
    return sendJson(res, 404, errorBody(404, 'NOT_FOUND', `No route for ${req.method} ${path}`));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
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
    calls: () => calls.map((call) => ({ ...call })),
    statusCalls: () => statusCalls.map((call) => ({ ...call })),
    reset,
    setScript,
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

function parseArgs(argv) {
  const flags = {
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
  const booleans = { '--hang-after-send': 'hangAfterSend', '--limit-status-checks': 'limitStatusChecks', '--log': 'log' };
  const options = {};
  for (let index = 0; index < argv.length; index += 1) {
    let arg = argv[index];
    let value;
    if (arg.includes('=')) [arg, value] = [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)];
    if (arg === '--help' || arg === '-h') return { help: true };
    if (arg === '--allow-missing-key') {
      options.requireIdempotencyKey = false;
    } else if (booleans[arg]) {
      options[booleans[arg]] = true;
    } else if (flags[arg]) {
      value ??= argv[++index];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      const [name, convert] = flags[arg];
      options[name] = convert(value);
      if (typeof options[name] === 'number' && Number.isNaN(options[name])) throw new Error(`${arg}: not a number: ${value}`);
    } else {
      throw new Error(`unknown argument: ${arg}`);
    }
  }
  return options;
}

function isMain() {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
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
