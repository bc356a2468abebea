import type { WindowRule } from '../config';
import { ApiError } from '../errors';
import type { RefusalReason } from '../limiter/admission';

const MESSAGES: Record<RefusalReason, string> = {
  prefix_blocked: 'Codes cannot be sent to numbers in this range for now (blocked against SMS fraud); try again later',
  phone_locked: 'Too many wrong codes were entered for this phone number; new codes can be requested after Retry-After',
  phone_rate_limited: 'Too many codes were requested for this phone number; try again later',
  ip_rate_limited: 'Too many code requests from this address; try again later',
  prefix_rate_limited: 'Too many codes were requested for numbers in this range; try again later',
  app_budget_exhausted: "This app's daily SMS budget is spent; an operator can raise it",
  global_budget_exhausted: 'The service is at capacity; try again shortly',
  turnstile_required:
    'Codes to numbers in this region are stepped up against SMS fraud: a browser send to a number never verified here needs a Cloudflare Turnstile token',
  conversion_step_up: 'Codes to numbers in this region are stepped up against SMS fraud: new numbers are admitted at a trickle; try again later',
};

/**
 * The answer to a refused send: its reason as the error code, `Retry-After`, and for a 429 the
 * IETF RateLimit fields. The reason is named because apps and operators need it (a locked phone
 * or a blocked range is not cured by retrying in a minute) and an attacker learns it cheaply
 * anyway, by varying one input at a time.
 */
export function refusedSendError(reason: RefusalReason, retryAfterSeconds: number, rules: WindowRule[], stepUpScope?: string): ApiError {
  const seconds = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  const details: Record<string, unknown> = { retryAfterSeconds: Number(seconds) };
  // Which scope is stepped up, so an app and an operator can tell a region's step-up from a caller's own limit.
  if (stepUpScope) details.scope = stepUpScope;
  if (reason === 'turnstile_required') return new ApiError(reason, MESSAGES[reason], { details: { scope: stepUpScope } });
  if (reason === 'global_budget_exhausted') return new ApiError(reason, MESSAGES[reason], { headers: { 'Retry-After': seconds }, details });
  const tightest = rules.reduce((a, b) => (a.windowSeconds <= b.windowSeconds ? a : b));
  return new ApiError(reason, MESSAGES[reason], {
    headers: {
      'Retry-After': seconds,
      RateLimit: `"otp";r=0;t=${seconds}`,
      'RateLimit-Policy': `"otp";q=${tightest.limit};w=${tightest.windowSeconds}`,
    },
    details,
  });
}
