import { ApiError } from '../errors';

/** What a Turnstile check concluded, and the API's answer to each way it can fail. */

export type TurnstileResult = { ok: true } | { ok: false; reason: 'missing' | 'invalid' | 'expired_or_used' | 'hostname_mismatch'; errorCodes: string[] };
export type TurnstileFailure = Extract<TurnstileResult, { ok: false }>;

/** siteverify gave no usable answer (timeout, network, 5xx, unreadable body): nothing is known about the token. */
export class TurnstileUnavailableError extends Error {
  constructor(readonly problem: string) {
    super(`Turnstile siteverify unavailable: ${problem}`);
    this.name = 'TurnstileUnavailableError';
  }
}

/** The deployment cannot check tokens: the secret is not set, or siteverify refused it. No retry cures this. */
export class TurnstileConfigurationError extends Error {
  constructor(
    readonly kind: 'missing_secret' | 'secret_refused',
    detail: string,
  ) {
    super(`Turnstile misconfigured: ${detail}`);
    this.name = 'TurnstileConfigurationError';
  }
}

/** Seconds a client waits before trying again after siteverify failed to answer. */
const UNAVAILABLE_RETRY_SECONDS = '5';

const FAILED_MESSAGES: Record<Exclude<TurnstileFailure['reason'], 'missing'>, string> = {
  invalid: 'The Turnstile token is not valid; complete the challenge again',
  expired_or_used: 'The Turnstile token expired or was already used (a token is valid once, for 5 minutes); complete the challenge again',
  hostname_mismatch: 'The Turnstile token was issued on a site this app does not allow',
};

/**
 * The API's answer to a failed check, or to one of the errors `checkTurnstile` throws: the route
 * throws what this returns. `400 turnstile_required`, `403 turnstile_failed` (with `reason`),
 * `503 turnstile_unavailable` (with `Retry-After`) or `500 configuration_error`.
 */
export function turnstileError(failure: TurnstileFailure | TurnstileUnavailableError | TurnstileConfigurationError): ApiError {
  if (failure instanceof TurnstileUnavailableError) {
    return new ApiError(
      'turnstile_unavailable',
      'The browser check (Cloudflare Turnstile) cannot be completed right now, so no code is sent; try again shortly',
      {
        headers: { 'Retry-After': UNAVAILABLE_RETRY_SECONDS },
      },
    );
  }
  if (failure instanceof TurnstileConfigurationError) {
    if (failure.kind === 'missing_secret') {
      return new ApiError('configuration_error', 'TURNSTILE_SECRET_KEY is not set, so Turnstile tokens cannot be checked; the operator must set it', {
        details: { missingSecret: 'TURNSTILE_SECRET_KEY' },
      });
    }
    return new ApiError('configuration_error', 'Turnstile refused TURNSTILE_SECRET_KEY, so tokens cannot be checked; the operator must fix it');
  }
  if (failure.reason === 'missing') {
    return new ApiError('turnstile_required', 'This app requires a Cloudflare Turnstile token with each send; none was given');
  }
  return new ApiError('turnstile_failed', FAILED_MESSAGES[failure.reason], { details: { reason: failure.reason } });
}
