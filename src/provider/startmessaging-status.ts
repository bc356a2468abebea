import { z } from 'zod';
import { PROVIDER_MESSAGE_STATUSES, type DeliveryStatusSource, type StatusOutcome } from './delivery-status';
import { callProvider } from './provider-http';
import { type StartMessagingOptions, parseRetryAfter, redactDigits } from './startmessaging';

/**
 * Client for StartMessaging's `GET /messages/:messageId`, the only way it tells what became of an
 * SMS (it has no delivery webhooks). Read as tolerantly as the send answer: the envelope's `data`
 * or the top level, status in any letter case, the error as text or as `{ code, message }`.
 */

const StatusFields = z.looseObject({
  status: z.string().optional(),
  deliveredAt: z.union([z.string(), z.number()]).nullable().optional(),
  error: z
    .union([z.string(), z.looseObject({ code: z.union([z.string(), z.number()]).optional(), message: z.string().optional() })])
    .nullable()
    .optional(),
});
const StatusBody = StatusFields.extend({ data: StatusFields.optional() });

export class StartMessagingStatusSource implements DeliveryStatusSource {
  constructor(private readonly options: StartMessagingOptions) {}

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

function reportFrom(httpStatus: number, text: string): StatusOutcome {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = StatusBody.safeParse(json);
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
