#!/usr/bin/env node
/**
 * A local stand-in for Twilio Programmable Messaging, for end-to-end checks and benchmarks; no
 * network, node:http only. It answers the two calls the dispatcher makes:
 *
 *   POST /2010-04-01/Accounts/{AccountSid}/Messages.json       form-encoded To, From or
 *        MessagingServiceSid, Body; HTTP Basic auth (account SID, auth token). `whatsapp:+…`
 *        addresses are WhatsApp. 201 with the message resource (status queued).
 *   GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json the message: delivered (or
 *        undelivered for a scripted "undelivered" step).
 *   GET  /__stats, GET /__calls[?since=<seq>], POST /__reset, POST /__script   as the StartMessaging stand-in's.
 *
 * Order of checks for one send: latency, Basic auth (401, error 20003), then a scripted step for
 * the number if it has one, else the account's rate limit (429, error 20429, Retry-After: 1), an
 * injected hang (hangRate; with hangAfterSend the message is made first), an injected failure
 * (failRate, answered failStatus: 500 by default), validation (400: 21211 invalid To, 21602 no
 * Body, 21603 no sender), then a new message. Twilio has no idempotency key, and neither has this:
 * every call that gets that far makes a message, as the real one would.
 *
 * Scripted steps (one per call to that number, the last repeating): "ok", "undelivered",
 * "hang", "hang-after-send", "<status>[/<twilio code>][:<Retry-After>]" ("400/21211", "503",
 * "429:3").
 *
 *   import { startTwilioStandIn } from './twilio-stand-in.mjs';
 *   const twilio = await startTwilioStandIn({ failRate: 0.5, seed: 7 });   // twilio.url, .accountSid, .authToken
 *
 *   node scripts/twilio-stand-in.mjs --port 0 [--latency-ms N] [--fail-rate 0..1] [--fail-status 503]
 *     [--hang-rate 0..1] [--hang-after-send] [--rate-limit RPS] [--seed S] [--script '{"+15550100001":["503","ok"]}'] [--log]
 */
import { createServer } from 'node:http';
import { mulberry32, seedToInt } from './lib/random.mjs';
import { isMainModule, parseStandInArgs } from './stand-in/cli.mjs';
import { readBody, sendJson } from './stand-in/http-io.mjs';
import { createRateLimiter } from './stand-in/rate-limit.mjs';
import { createTwilioMessages, errorDocument, parseTwilioScript } from './stand-in/twilio-messages.mjs';

export const STAND_IN_ACCOUNT_SID = `AC${'5'.repeat(32)}`;
export const STAND_IN_AUTH_TOKEN = 'twilio-stand-in-auth-token';

function readSettings(options) {
  const number = (name, fallback, max = Infinity) => {
    const value = Number(options[name] ?? fallback);
    if (!Number.isFinite(value) || value < 0 || value > max) throw new RangeError(`${name} must be a number from 0 to ${max}, got ${options[name]}`);
    return value;
  };
  const settings = {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    accountSid: options.accountSid ?? STAND_IN_ACCOUNT_SID,
    authToken: options.authToken ?? STAND_IN_AUTH_TOKEN,
    latencyMs: number('latencyMs', 0),
    latencyJitterMs: number('latencyJitterMs', 0),
    failRate: number('failRate', 0, 1),
    failStatus: number('failStatus', 500, 599),
    hangRate: number('hangRate', 0, 1),
    hangAfterSend: Boolean(options.hangAfterSend),
    rateLimit: number('rateLimit', 0),
    random: options.seed === undefined || options.seed === null ? Math.random : mulberry32(seedToInt(options.seed)),
    log: options.log === true ? (line) => process.stderr.write(`${line}\n`) : typeof options.log === 'function' ? options.log : null,
    baseScript: parseTwilioScript(options.script),
  };
  settings.rateBurst = options.rateBurst ?? Math.max(1, settings.rateLimit);
  const { failRate, failStatus, hangRate, hangAfterSend, rateLimit, latencyMs } = settings;
  settings.config = { failRate, failStatus, hangRate, hangAfterSend, rateLimit, latencyMs, seed: options.seed ?? null };
  return settings;
}

/** Starts the stand-in; resolves { url, port, accountSid, authToken, stats(), calls(), statusCalls(), reset(), setScript(), close() }. */
export async function startTwilioStandIn(options = {}) {
  const settings = readSettings(options);
  const messages = createTwilioMessages(settings);
  const limiter = createRateLimiter(settings);
  const timers = new Set();
  const sockets = new Set();
  const later = (ms, fn) => {
    if (ms <= 0) return void fn();
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };
  const expectedAuth = `Basic ${Buffer.from(`${settings.accountSid}:${settings.authToken}`).toString('base64')}`;
  const account = `/2010-04-01/Accounts/${settings.accountSid}`;

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const path = url.pathname;
    const authorized = req.headers.authorization === expectedAuth;
    if (path === `${account}/Messages.json` && req.method === 'POST') {
      const { text } = await readBody(req);
      return messages.handleCreate(res, text, authorized, limiter, later);
    }
    const fetch = new RegExp(`^${account}/Messages/([A-Za-z0-9]+)\\.json$`).exec(path);
    if (fetch && req.method === 'GET') return messages.handleFetch(res, fetch[1], authorized);
    if (path === '/__stats' && req.method === 'GET') return sendJson(res, 200, messages.stats());
    if (path === '/__calls' && req.method === 'GET') return sendJson(res, 200, messages.since(Number(url.searchParams.get('since') ?? 0) || 0));
    if (path === '/__reset' && req.method === 'POST') {
      messages.reset();
      limiter.reset();
      return sendJson(res, 200, { ok: true });
    }
    if (path === '/__script' && req.method === 'POST') {
      const { text } = await readBody(req);
      try {
        return sendJson(res, 200, { ok: true, scripted: messages.setScript(JSON.parse(text)) });
      } catch (error) {
        return sendJson(res, 400, errorDocument(400, 20001, String(error?.message ?? error)));
      }
    }
    return sendJson(res, 404, errorDocument(404, 20404, `The requested resource ${path} was not found`));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => resolve());
  });
  const { port } = server.address();
  let closing;
  return {
    url: `http://${settings.host}:${port}`,
    port,
    accountSid: settings.accountSid,
    authToken: settings.authToken,
    stats: messages.stats,
    calls: messages.calls,
    statusCalls: messages.statusCalls,
    setScript: messages.setScript,
    reset() {
      messages.reset();
      limiter.reset();
    },
    close() {
      closing ??= new Promise((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

const FLAGS = {
  '--port': ['port', Number],
  '--host': ['host', String],
  '--latency-ms': ['latencyMs', Number],
  '--latency-jitter-ms': ['latencyJitterMs', Number],
  '--fail-rate': ['failRate', Number],
  '--fail-status': ['failStatus', Number],
  '--hang-rate': ['hangRate', Number],
  '--rate-limit': ['rateLimit', Number],
  '--seed': ['seed', String],
  '--script': ['script', JSON.parse],
};

const SWITCHES = { '--hang-after-send': ['hangAfterSend', true], '--log': ['log', true] };

if (isMainModule(import.meta.url)) {
  let options;
  try {
    options = parseStandInArgs(process.argv.slice(2), { values: FLAGS, switches: SWITCHES });
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  if (options.help) {
    process.stdout.write(
      `usage: node scripts/twilio-stand-in.mjs ${Object.keys(FLAGS)
        .map((flag) => `[${flag} …]`)
        .join(' ')} ${Object.keys(SWITCHES)
        .map((flag) => `[${flag}]`)
        .join(' ')}\n`,
    );
    process.exit(0);
  }
  const standIn = await startTwilioStandIn(options);
  process.stdout.write(`${JSON.stringify({ url: standIn.url, port: standIn.port, accountSid: standIn.accountSid, pid: process.pid })}\n`);
  const stop = async () => {
    process.stderr.write(`${JSON.stringify({ stats: standIn.stats() })}\n`);
    await standIn.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
