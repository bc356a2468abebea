import type { components } from './api-types.ts';

/** The closed set of error codes the API answers with (docs/api.md#errors). */
export type ApiErrorCode = components['schemas']['Error']['error']['code'];

/**
 * An answer of the API that is not a success: `code` is the API's error code, to switch on
 * (`unreadable_answer` when the body was not the API's error shape, e.g. from a proxy).
 */
export class OtpApiError extends Error {
  override readonly name = 'OtpApiError';
  /** The API's error code. */
  readonly code: ApiErrorCode | 'unreadable_answer';
  /** The HTTP status. */
  readonly status: number;
  /** The trace id of the call (`X-Request-Id`), to quote to the operator. */
  readonly traceId: string | undefined;
  /** Seconds the API asked to wait before retrying (`Retry-After`), when it did. */
  readonly retryAfterSeconds: number | undefined;
  /** Other fields of the error body, such as `attemptsRemaining` of `invalid_code`. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ApiErrorCode | 'unreadable_answer',
    message: string,
    answer: { status: number; traceId?: string; retryAfterSeconds?: number; details?: Record<string, unknown> },
  ) {
    super(message);
    this.code = code;
    this.status = answer.status;
    this.traceId = answer.traceId;
    this.retryAfterSeconds = answer.retryAfterSeconds;
    this.details = answer.details ?? {};
  }
}

/** `waitForStatus` reached its deadline before the request reached a wanted or final status. */
export class OtpWaitTimeoutError extends Error {
  override readonly name = 'OtpWaitTimeoutError';
  readonly requestId: string;
  /** The last status read, if any call answered. */
  readonly lastStatus: string | undefined;

  constructor(requestId: string, lastStatus: string | undefined) {
    super(`Request ${requestId} did not reach the status wanted in time (last: ${lastStatus ?? 'none read'})`);
    this.requestId = requestId;
    this.lastStatus = lastStatus;
  }
}

/** A verification token that is forged, expired, for another app or issuer, or malformed. `reason` is jose's error code. */
export class OtpTokenError extends Error {
  override readonly name = 'OtpTokenError';
  readonly reason: string;

  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

export type WebhookRefusal =
  | 'missing_headers'
  | 'invalid_timestamp'
  | 'timestamp_out_of_tolerance'
  | 'invalid_secret'
  | 'invalid_signature'
  | 'invalid_payload';

/** A webhook whose signature does not verify (Standard Webhooks). */
export class OtpWebhookError extends Error {
  override readonly name = 'OtpWebhookError';
  readonly reason: WebhookRefusal;

  constructor(reason: WebhookRefusal, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** The error an API answer stands for: its code, message, trace id and `Retry-After`. */
export function apiError(response: Response, body: unknown): OtpApiError {
  const retryAfter = Number(response.headers.get('Retry-After') ?? Number.NaN);
  const retryAfterSeconds = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined;
  const error = (body as { error?: { code?: unknown; message?: unknown; requestId?: unknown } } | undefined)?.error;
  const traceId = response.headers.get('X-Request-Id') ?? undefined;
  if (!error || typeof error.code !== 'string' || typeof error.message !== 'string') {
    return new OtpApiError('unreadable_answer', `The service answered ${response.status} without an API error body`, {
      status: response.status,
      traceId,
      retryAfterSeconds,
    });
  }
  const { code, message, requestId: _traceId, ...details } = error as Record<string, unknown>;
  return new OtpApiError(code as ApiErrorCode, message as string, { status: response.status, traceId, retryAfterSeconds, details });
}
