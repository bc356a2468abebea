import { z } from 'zod';
import { callProvider, parseJson, parseRetryAfter, redactDigits } from './provider-http';
import { type Channel, PROVIDER_MESSAGE_STATUSES, type SendOutcome, type SendRequest, type SmsProvider, type StatusOutcome } from './sms-provider';

/**
 * Client for StartMessaging. `POST /otp/send`: its documentation disagrees with itself, so the
 * request carries the idempotency key both in the body and as a header (documented as safe), and
 * the response is read tolerantly: 200 or 201, message id under any of the documented names.
 * `GET /messages/:messageId` is the only way it tells what became of an SMS (it has no delivery
 * webhooks), read as tolerantly: the envelope's `data` or the top level, status in any letter
 * case, the error as text or as `{ code, message }`.
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

const StatusFields = z.looseObject({
  status: z.string().optional(),
  deliveredAt: z.union([z.string(), z.number()]).nullable().optional(),
  error: z
    .union([z.string(), z.looseObject({ code: z.union([z.string(), z.number()]).optional(), message: z.string().optional() })])
    .nullable()
    .optional(),
});
const StatusBody = StatusFields.extend({ data: StatusFields.optional() });

export interface StartMessagingOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
}

export class StartMessagingProvider implements SmsProvider {
  readonly name = 'startmessaging';
  /** A repeated key is answered with the original result: no second SMS. */
  readonly idempotent = true;
  readonly channels: readonly Channel[] = ['sms'];

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
          ...(request.templateId ? { templateId: request.templateId } : {}),
        }),
      },
      this.options.timeoutMs,
    );
    if (!('response' in answer)) return answer;
    if (answer.response.ok) return successOutcome(answer.response.status, answer.text);
    return failureOutcome(answer.response, answer.text);
  }

  async messageStatus(messageId: string): Promise<StatusOutcome> {
    const answer = await callProvider(
      `${this.options.baseUrl}/messages/${encodeURIComponent(messageId)}`,
      { method: 'GET', headers: { Accept: 'application/json', 'X-API-Key': this.options.apiKey } },
      this.options.timeoutMs,
    );
    if (!('response' in answer)) return answer;
    const { response, text } = answer;
    const status = response.status;
    if (response.ok) return reportFrom(status, text);
    const message = `HTTP ${status}`;
    if (status === 429 || status === 408 || status >= 500) {
      const retryAfterSeconds = parseRetryAfter(response.headers.get('Retry-After'));
      const errorCode = status === 429 ? 'provider_rate_limited' : 'provider_unavailable';
      return { kind: 'transient', httpStatus: status, errorCode, message, retryAfterSeconds };
    }
    if (status === 404) return { kind: 'permanent', httpStatus: status, errorCode: 'provider_message_not_found', message };
    if (status === 401 || status === 403) return { kind: 'permanent', httpStatus: status, errorCode: 'provider_unauthorized', message };
    return { kind: 'permanent', httpStatus: status, errorCode: 'provider_rejected_request', message };
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

function reportFrom(httpStatus: number, text: string): StatusOutcome {
  const parsed = StatusBody.safeParse(parseJson(text));
  const fields = parsed.success ? { ...parsed.data, ...parsed.data.data } : undefined;
  const status = PROVIDER_MESSAGE_STATUSES.find((known) => known === fields?.status?.trim().toLowerCase());
  if (!fields || !status) {
    return { kind: 'transient', httpStatus, errorCode: 'provider_bad_response', message: 'unreadable status body' };
  }
  const error = fields.error;
  const errorText = typeof error === 'string' ? error : error ? [error.code, error.message].filter((part) => part !== undefined).join(': ') : '';
  return {
    kind: 'report',
    httpStatus,
    status,
    deliveredAt: toEpochMs(fields.deliveredAt),
    errorMessage: errorText ? redactDigits(errorText).slice(0, 200) : null,
  };
}

function toEpochMs(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const ms = typeof value === 'number' ? (value < 1e11 ? value * 1000 : value) : Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}
