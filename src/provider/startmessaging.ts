import { z } from 'zod';
import { callProvider } from './provider-http';
import type { SendOutcome, SendRequest, SmsProvider } from './types';

/**
 * Client for StartMessaging's `POST /otp/send`. Its documentation disagrees with itself, so the
 * request carries the idempotency key both in the body and as a header (documented as safe), and
 * the response is read tolerantly: 200 or 201, message id under any of the documented names.
 */

const SuccessBody = z.looseObject({
  data: z
    .looseObject({
      messageId: z.string().optional(),
      otpRequestId: z.string().optional(),
      requestId: z.string().optional(),
    })
    .optional(),
  messageId: z.string().optional(),
});

const ErrorBody = z.looseObject({
  message: z.string().optional(),
  error: z
    .union([
      z.string(),
      z.looseObject({
        code: z.union([z.string(), z.number()]).optional(),
        message: z.string().optional(),
        retry_after: z.union([z.number(), z.string()]).optional(),
      }),
    ])
    .optional(),
});

/** A permanent rejection's error code, by HTTP status, as the provider sheet classifies them. */
const PERMANENT_BY_STATUS: Record<number, string> = {
  400: 'provider_rejected_request',
  401: 'provider_unauthorized',
  402: 'provider_insufficient_balance',
  403: 'provider_forbidden',
  404: 'provider_endpoint_not_found',
  409: 'provider_idempotency_conflict',
  422: 'provider_rejected_request',
};

export interface StartMessagingOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
}

export class StartMessagingProvider implements SmsProvider {
  constructor(private readonly options: StartMessagingOptions) {}

  async send(request: SendRequest): Promise<SendOutcome> {
    const answer = await callProvider(
      `${this.options.baseUrl}/otp/send`,
      {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json',
          'X-API-Key': this.options.apiKey,
          'Idempotency-Key': request.idempotencyKey,
        },
        body: JSON.stringify({
          phoneNumber: request.phoneNumber,
          variables: { otp: request.code },
          idempotencyKey: request.idempotencyKey,
        }),
      },
      this.options.timeoutMs,
    );
    if (!('response' in answer)) return answer;
    if (answer.response.ok) return successOutcome(answer.response.status, answer.text);
    return failureOutcome(answer.response, answer.text);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function successOutcome(status: number, text: string): SendOutcome {
  const parsed = SuccessBody.safeParse(parseJson(text));
  if (!parsed.success) {
    // The provider answered 2xx but not in any documented shape. Retrying with the same
    // idempotency key is safe (it returns the original answer) and tells us what happened.
    return { kind: 'transient', httpStatus: status, errorCode: 'provider_bad_response', message: 'unreadable success body' };
  }
  const body = parsed.data;
  const messageId = body.data?.messageId ?? body.messageId ?? body.data?.otpRequestId ?? body.data?.requestId ?? null;
  return { kind: 'sent', httpStatus: status, messageId };
}

function failureOutcome(response: Response, text: string): SendOutcome {
  const status = response.status;
  const detail = errorDetail(text);
  const message = redactDigits(detail.message ?? `HTTP ${status}`).slice(0, 200);
  if (status === 429) {
    const retryAfterSeconds = parseRetryAfter(response.headers.get('Retry-After')) ?? detail.retryAfterSeconds;
    return { kind: 'transient', httpStatus: status, errorCode: 'provider_rate_limited', message, retryAfterSeconds };
  }
  if (status >= 500 || status === 408) {
    const retryAfterSeconds = parseRetryAfter(response.headers.get('Retry-After'));
    return { kind: 'transient', httpStatus: status, errorCode: 'provider_unavailable', message, retryAfterSeconds };
  }
  return { kind: 'permanent', httpStatus: status, errorCode: PERMANENT_BY_STATUS[status] ?? 'provider_rejected_request', message };
}

function errorDetail(text: string): { message?: string; retryAfterSeconds?: number } {
  const parsed = ErrorBody.safeParse(parseJson(text));
  if (!parsed.success) return {};
  const { error, message } = parsed.data;
  if (typeof error === 'string') return { message: error };
  const retryAfter = error?.retry_after === undefined ? undefined : Number(error.retry_after);
  return {
    message: error?.message ?? message,
    retryAfterSeconds: retryAfter !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined,
  };
}

/** `Retry-After` is either delay-seconds or an HTTP date (RFC 9110, section 10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** Provider error texts may echo the number or the code; long digit runs never reach D1. */
export function redactDigits(text: string): string {
  return text.replace(/\+?\d[\d\s-]{3,}\d/g, '[redacted]');
}
