import { z } from 'zod';
import type { Config } from '../config';
import { logError, logWarn } from '../log';
import { TurnstileConfigurationError, type TurnstileResult, TurnstileUnavailableError } from './turnstile-result';

export { TurnstileConfigurationError, type TurnstileFailure, type TurnstileResult, TurnstileUnavailableError, turnstileError } from './turnstile-result';

/**
 * Server-side check of a Cloudflare Turnstile token. The widget in the browser proves nothing by
 * itself: only siteverify can say whether a token is real, unexpired, unused and issued on one of
 * the app's own sites. When siteverify cannot answer, the check throws instead of passing (fail
 * closed): a send that needs a proven browser is refused rather than let through unchecked.
 */

/** Turnstile's limits on a token: at most this long, valid this long after the challenge, and once. */
export const TURNSTILE_TOKEN_MAX_LENGTH = 2048;
export const TURNSTILE_TOKEN_LIFETIME_MS = 300_000;

/** Stub mode's tokens. The passing one is also what Cloudflare's testing sitekeys put in the page. */
export const STUB_PASS_TOKEN = 'XXXX.DUMMY.TOKEN.XXXX';
export const STUB_FAIL_TOKEN = 'XXXX.DUMMY.TOKEN.FAIL';

/** A retry after a lost answer is safe: the idempotency key makes siteverify repeat its first verdict instead of calling the token used. */
const MAX_CALLS = 2;

/** Visible ASCII only: a token with anything else cannot be one Turnstile issued, so it is refused without a call. */
const TOKEN_SHAPE = new RegExp(`^[\\x21-\\x7e]{1,${TURNSTILE_TOKEN_MAX_LENGTH}}$`);

/** Error codes that mean our secret is wrong, not the visitor's token. */
const SECRET_ERRORS = ['missing-input-secret', 'invalid-input-secret'];

const SiteverifyAnswer = z.looseObject({
  success: z.boolean(),
  'error-codes': z.array(z.string()).default([]),
  challenge_ts: z.string().nullish(),
  hostname: z.string().nullish(),
  action: z.string().nullish(),
  cdata: z.string().nullish(),
});
type SiteverifyAnswer = z.infer<typeof SiteverifyAnswer>;

export interface TurnstileCheck {
  /** What the browser sent; undefined when it sent none. */
  token: string | undefined;
  /** The visitor's address, passed on to siteverify as a signal when known. */
  remoteIp?: string;
  /** The hostnames of the app's allowed origins: a token solved on any other site is refused. Empty refuses every token. */
  expectedHostnames?: string[];
  /** The clock a pass's `challenge_ts` is judged by; now by default. */
  now?: number;
}

/**
 * `{ ok: true }` or why the token fails. Throws `TurnstileUnavailableError` when siteverify gives no
 * usable answer (timeout, network, 5xx, unreadable body) and `TurnstileConfigurationError` when the
 * secret is missing or refused; `turnstileError` turns any of these into the API's answer.
 */
export async function checkTurnstile(config: Config, input: TurnstileCheck): Promise<TurnstileResult> {
  const { token } = input;
  if (token === undefined) return { ok: false, reason: 'missing', errorCodes: [] };
  if (!TOKEN_SHAPE.test(token)) return { ok: false, reason: 'invalid', errorCodes: [] };
  if (config.turnstile.mode === 'stub') return stubVerdict(token);

  const secret = config.secrets.TURNSTILE_SECRET_KEY;
  if (!secret) {
    logError('config.missing_secret', { secret: 'TURNSTILE_SECRET_KEY', needed: 'turnstile check' });
    throw new TurnstileConfigurationError('missing_secret', 'TURNSTILE_SECRET_KEY is not set');
  }
  const answer = await askSiteverify(config, { secret, token, remoteIp: input.remoteIp });
  return verdict(answer, input.expectedHostnames, input.now ?? Date.now());
}

/** No network: the published passing token passes, every other well-formed token fails. */
function stubVerdict(token: string): TurnstileResult {
  if (token === STUB_PASS_TOKEN) return { ok: true };
  return { ok: false, reason: 'invalid', errorCodes: token === STUB_FAIL_TOKEN ? ['stub-failure'] : ['stub-unknown-token'] };
}

function verdict(answer: SiteverifyAnswer, expectedHostnames: string[] | undefined, now: number): TurnstileResult {
  const errorCodes = answer['error-codes'];
  if (!answer.success) {
    const refusedSecret = errorCodes.find((code) => SECRET_ERRORS.includes(code));
    if (refusedSecret) {
      logError('turnstile.secret_refused', { errorCode: refusedSecret });
      throw new TurnstileConfigurationError('secret_refused', `siteverify refused TURNSTILE_SECRET_KEY (${refusedSecret})`);
    }
    const reason = errorCodes.includes('timeout-or-duplicate') ? 'expired_or_used' : 'invalid';
    return { ok: false, reason, errorCodes };
  }
  if (expectedHostnames) {
    const hostname = answer.hostname?.toLowerCase();
    if (!hostname || !expectedHostnames.some((expected) => expected.toLowerCase() === hostname)) {
      return { ok: false, reason: 'hostname_mismatch', errorCodes };
    }
  }
  // siteverify already refuses old tokens; this holds even if it slipped. A timestamp missing or
  // unreadable leaves the verdict to siteverify.
  const solvedAt = answer.challenge_ts ? Date.parse(answer.challenge_ts) : Number.NaN;
  if (now - solvedAt > TURNSTILE_TOKEN_LIFETIME_MS) return { ok: false, reason: 'expired_or_used', errorCodes };
  return { ok: true };
}

type CallOutcome = { answer: SiteverifyAnswer } | { problem: string; retryable: boolean };

/** One check: up to MAX_CALLS calls with one idempotency key, all within one timeout. */
async function askSiteverify(config: Config, request: { secret: string; token: string; remoteIp?: string }): Promise<SiteverifyAnswer> {
  const { verifyUrl, timeoutMs } = config.turnstile;
  const signal = AbortSignal.timeout(timeoutMs);
  const body = JSON.stringify({
    secret: request.secret,
    response: request.token,
    remoteip: request.remoteIp || undefined,
    idempotency_key: crypto.randomUUID(),
  });
  for (let call = 1; ; call++) {
    const outcome = await callSiteverify(verifyUrl, body, signal, timeoutMs);
    if ('answer' in outcome) return outcome.answer;
    if (!outcome.retryable || call >= MAX_CALLS || signal.aborted) {
      logWarn('turnstile.unavailable', { problem: outcome.problem, calls: call });
      throw new TurnstileUnavailableError(outcome.problem);
    }
  }
}

async function callSiteverify(url: string, body: string, signal: AbortSignal, timeoutMs: number): Promise<CallOutcome> {
  const timedOut = { problem: `no answer within ${timeoutMs} ms`, retryable: false };
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body, signal });
  } catch {
    return signal.aborted ? timedOut : { problem: 'could not reach siteverify', retryable: true };
  }
  if (response.status >= 500 || response.status === 429) {
    await response.body?.cancel().catch(() => {});
    return { problem: `siteverify answered HTTP ${response.status}`, retryable: response.status >= 500 };
  }
  let text: string;
  try {
    text = await response.text();
  } catch {
    return signal.aborted ? timedOut : { problem: 'siteverify body could not be read', retryable: false };
  }
  const parsed = SiteverifyAnswer.safeParse(parseJson(text));
  // A pass is only believed from a 2xx; a 4xx may still carry a readable refusal.
  if (!parsed.success || (parsed.data.success && !response.ok)) {
    return { problem: `siteverify answer unreadable (HTTP ${response.status})`, retryable: false };
  }
  if (!parsed.data.success && parsed.data['error-codes'].includes('internal-error')) {
    return { problem: 'siteverify reported internal-error', retryable: true };
  }
  return { answer: parsed.data };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
