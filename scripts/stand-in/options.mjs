/** The stand-in's options, checked once: rates between 0 and 1, times and limits non-negative. */
import { mulberry32, seedToInt } from '../lib/random.mjs';
import { parseScript } from './script.mjs';

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

/** `options` as startStandIn takes them (see there), with defaults, the PRNG and the log sink. */
export function readOptions(options) {
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
  return {
    host,
    port: options.port ?? 0,
    latencyMs,
    latencyJitterMs,
    failRate,
    hangRate,
    hangAfterSend,
    rateLimit,
    rateBurst,
    limitStatusChecks,
    requireIdempotencyKey,
    random,
    log,
    baseScript,
    /** As the stats report them. */
    config: { latencyMs, latencyJitterMs, failRate, hangRate, hangAfterSend, rateLimit, rateBurst, limitStatusChecks, seed: options.seed ?? null },
  };
}
