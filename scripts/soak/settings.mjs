/** The soak's settings: command-line flags, SOAK_* environment variables, and the Worker's vars. */
import { randomUUID } from 'node:crypto';
import { intEnv } from '../lib/env.mjs';

const args = parseArgs(process.argv.slice(2));
export const SOAK_SECONDS = args.duration ?? intEnv('SOAK_SECONDS', 70, 10, 3600);
export const FIXED_CONCURRENCY = args.concurrency ?? (process.env.SOAK_CONCURRENCY ? intEnv('SOAK_CONCURRENCY', 8, 1, 256) : null);
export const RAMP = (process.env.SOAK_RAMP ?? '1,2,4,8,16,32').split(',').map(Number);
export const STEP_SECONDS = intEnv('SOAK_STEP_SECONDS', 8, 2, 120);
export const DRAIN_SECONDS = 90;
export const MEMORY_EVERY_MS = 3000;
export const MEMORY_GROWTH_LIMIT = 0.15;
export const REQUEST_TIMEOUT_MS = 10_000;
export const ADMIN_TOKEN = `soak-admin-${randomUUID()}`;
const API_KEY = 'soak-key';
export const OVERALL_TIMEOUT_MS = (SOAK_SECONDS + DRAIN_SECONDS + RAMP.length * STEP_SECONDS + 240) * 1000;
export const FINAL = new Set(['sent', 'delivered', 'failed', 'expired', 'verified', 'superseded']);
if (RAMP.some((level) => !Number.isInteger(level) || level < 1 || level > 256)) throw new Error('SOAK_RAMP must be integers from 1 to 256');

export const VARS = [
  'PROVIDER_MODE:startmessaging',
  'PROVIDER_ORDER:startmessaging',
  `SM_API_KEY:${API_KEY}`,
  'OTP_SECRET:soak-otp-secret',
  'SESSION_SECRET:soak-session-secret',
  `ADMIN_TOKEN:${ADMIN_TOKEN}`,
  'SEND_RETRY_BASE_SECONDS:1',
  'SEND_RETRY_MAX_SECONDS:4',
  // The soak measures the dispatcher, not the real account's 20 calls/s: the stand-in has no
  // rate limit, so the pacer is opened up too.
  'PROVIDER_RATE_PER_SECOND:2000',
  // Load from a few test ranges would trip the per-prefix, global and pumping defences, which
  // are not what is measured here (each send already has its own number and client IP).
  'PREFIX_LIMITS:1000000/60',
  'GLOBAL_SEND_LIMIT:1000000/60',
  'SEQUENTIAL_BURST_NUMBERS:1000',
  'PUMPING_MIN_SENDS:100000',
];

const DEFAULT_MIX = 'send:30,replay:2,poll:35,verify:15,admin:8,bad:10';
// SOAK_MIX reweights the traffic, e.g. "poll:60,admin:20,bad:20" to see what memory does without sends.
export const MIX = (process.env.SOAK_MIX || DEFAULT_MIX).split(',').map((part) => {
  const [kind, weight] = part.split(':');
  if (!['send', 'replay', 'poll', 'verify', 'admin', 'bad'].includes(kind) || !(Number(weight) >= 0)) throw new Error(`SOAK_MIX: bad entry ${part}`);
  return [kind, Number(weight)];
});
export const IDLE_SECONDS = intEnv('SOAK_IDLE_SECONDS', 0, 0, 600);
export const WARM_UP_MAX_SECONDS = intEnv('SOAK_WARMUP_MAX_SECONDS', 360, 0, 3600);
export const MIX_TOTAL = MIX.reduce((sum, [, weight]) => sum + weight, 0);

function parseArgs(argv) {
  const parsed = {};
  for (let i = 0; i < argv.length; i += 1) {
    const [flag, inline] = argv[i].split('=');
    const value = inline ?? argv[++i];
    const number = Number(value);
    if (flag === '--duration' && Number.isInteger(number) && number >= 10) parsed.duration = number;
    else if (flag === '--concurrency' && Number.isInteger(number) && number >= 1) parsed.concurrency = number;
    else throw new Error(`usage: soak.mjs [--duration SECONDS>=10] [--concurrency N]; got ${argv.join(' ')}`);
  }
  return parsed;
}
