import { z } from 'zod';
import { renderMessageBody } from './message-body';
import { callProvider, parseJson, parseRetryAfter, redactDigits } from './provider-http';
import type { Channel, ProviderMessageStatus, SendOutcome, SendRequest, SmsProvider, StatusOutcome } from './sms-provider';

/**
 * Client for Twilio Programmable Messaging (API version 2010-04-01): `POST
 * /Accounts/{AccountSid}/Messages.json` (form-encoded `To`, `From` or `MessagingServiceSid`,
 * `Body`; Basic auth with the account SID and auth token) and `GET …/Messages/{Sid}.json` for the
 * message's status. WhatsApp goes through the same resource with `whatsapp:`-prefixed addresses.
 *
 * Twilio takes no idempotency key: a call whose answer was lost may or may not have created a
 * message, and a second call would send a second one. Such outcomes come back `ambiguous`, and the
 * routing policy never sends that request through Twilio again.
 */

export interface TwilioOptions {
  baseUrl: string;
  accountSid: string;
  authToken: string;
  /** A sender number (E.164) or alphanumeric id; one of `from` and `messagingServiceSid` is set. */
  from: string | null;
  messagingServiceSid: string | null;
  /** The WhatsApp sender (E.164, without the `whatsapp:` prefix); WhatsApp is offered only with one. */
  whatsappFrom: string | null;
  timeoutMs: number;
}

/** Both answers of the Messages resource carry these; the rest of the resource is not needed. */
const MessageResource = z.looseObject({
  sid: z.string().regex(/^[A-Z]{2}[0-9a-fA-F]{32}$/),
  status: z.string(),
  error_code: z.union([z.number(), z.string()]).nullable().optional(),
  error_message: z.string().nullable().optional(),
  date_updated: z.string().nullable().optional(),
});

/** Twilio's error document: `{ code, message, more_info, status }`. */
const ErrorDocument = z.looseObject({
  code: z.number().int().optional(),
  message: z.string().optional(),
});

/** Errors about the number itself: no other provider would do better, so they end the request. */
const NUMBER_ERRORS: Record<number, string> = {
  21211: 'provider_invalid_number',
  21614: 'provider_not_mobile',
  21610: 'provider_recipient_opted_out',
  21612: 'provider_unreachable_number',
};

/** Twilio's message statuses, sorted into the ones the status-check path knows. */
const STATUS_MAP: Record<string, ProviderMessageStatus> = {
  accepted: 'queued',
  scheduled: 'queued',
  queued: 'queued',
  sending: 'queued',
  sent: 'sent',
  delivered: 'delivered',
  read: 'delivered',
  undelivered: 'failed',
  failed: 'failed',
  canceled: 'failed',
};

const TOO_MANY_REQUESTS = 20429;

export class TwilioProvider implements SmsProvider {
  readonly name = 'twilio';
  readonly idempotent = false;
  readonly channels: readonly Channel[];

  constructor(private readonly options: TwilioOptions) {
    this.channels = options.whatsappFrom ? ['sms', 'whatsapp'] : ['sms'];
  }

  async send(request: SendRequest): Promise<SendOutcome> {
    const channel = request.channel ?? 'sms';
    const form = new URLSearchParams();
    if (channel === 'whatsapp') {
      if (!this.options.whatsappFrom) {
        return { kind: 'permanent', httpStatus: null, errorCode: 'provider_channel_unavailable', message: 'no WhatsApp sender is configured' };
      }
      form.set('To', `whatsapp:${request.phoneNumber}`);
      form.set('From', `whatsapp:${this.options.whatsappFrom}`);
    } else {
      form.set('To', request.phoneNumber);
      if (this.options.messagingServiceSid) form.set('MessagingServiceSid', this.options.messagingServiceSid);
      else form.set('From', this.options.from ?? '');
    }
    form.set('Body', renderMessageBody(request.code, request.text));
    const answer = await callProvider(
      `${this.accountUrl()}/Messages.json`,
      { method: 'POST', headers: { ...this.headers(), 'Content-Type': 'application/x-www-form-urlencoded' }, body: form.toString() },
      this.options.timeoutMs,
    );
    // No answer: the message may exist. Without an idempotency key that is all Twilio can tell us.
    if (!('response' in answer)) return { ...answer, ambiguous: true };
    const { response, text } = answer;
    if (response.ok) {
      const parsed = MessageResource.safeParse(parseJson(text));
      if (!parsed.success) {
        return { kind: 'transient', httpStatus: response.status, errorCode: 'provider_bad_response', message: 'unreadable success body', ambiguous: true };
      }
      return { kind: 'sent', httpStatus: response.status, messageId: parsed.data.sid };
    }
    return sendFailure(response, text);
  }

  async messageStatus(messageId: string): Promise<StatusOutcome> {
    const answer = await callProvider(
      `${this.accountUrl()}/Messages/${encodeURIComponent(messageId)}.json`,
      { method: 'GET', headers: this.headers() },
      this.options.timeoutMs,
    );
    if (!('response' in answer)) return answer;
    const { response, text } = answer;
    const httpStatus = response.status;
    if (response.ok) {
      const parsed = MessageResource.safeParse(parseJson(text));
      const status = parsed.success ? STATUS_MAP[parsed.data.status] : undefined;
      if (!parsed.success || !status) return { kind: 'transient', httpStatus, errorCode: 'provider_bad_response', message: 'unreadable status body' };
      const { error_code: code, error_message: errorText, date_updated: updated } = parsed.data;
      const errorMessage = code || errorText ? `twilio ${code ?? '-'}: ${redactDigits(errorText ?? parsed.data.status)}`.slice(0, 200) : null;
      const deliveredAt = status === 'delivered' && updated ? Date.parse(updated) : NaN;
      return { kind: 'report', httpStatus, status, deliveredAt: Number.isFinite(deliveredAt) ? deliveredAt : null, errorMessage };
    }
    const message = errorText(text, httpStatus);
    if (httpStatus === 429 || httpStatus >= 500 || httpStatus === 408) {
      const errorCode = httpStatus === 429 ? 'provider_rate_limited' : 'provider_unavailable';
      return { kind: 'transient', httpStatus, errorCode, message, retryAfterSeconds: parseRetryAfter(response.headers.get('Retry-After')) };
    }
    if (httpStatus === 404) return { kind: 'permanent', httpStatus, errorCode: 'provider_message_not_found', message };
    if (httpStatus === 401 || httpStatus === 403) return { kind: 'permanent', httpStatus, errorCode: 'provider_unauthorized', message };
    return { kind: 'permanent', httpStatus, errorCode: 'provider_rejected_request', message };
  }

  private accountUrl(): string {
    return `${this.options.baseUrl}/2010-04-01/Accounts/${encodeURIComponent(this.options.accountSid)}`;
  }

  private headers(): Record<string, string> {
    return { Accept: 'application/json', Authorization: `Basic ${btoa(`${this.options.accountSid}:${this.options.authToken}`)}` };
  }
}

/**
 * A refused send. Twilio's 429 (error 20429) and 5xx are worth another try, a 5xx possibly after
 * the message was made (ambiguous); every other 4xx is final for this request: the number is
 * invalid, not a mobile, opted out, or the account's set-up refuses it.
 */
function sendFailure(response: Response, text: string): SendOutcome {
  const httpStatus = response.status;
  const code = ErrorDocument.safeParse(parseJson(text)).data?.code;
  const message = errorText(text, httpStatus);
  const retryAfterSeconds = parseRetryAfter(response.headers.get('Retry-After'));
  if (httpStatus === 429 || code === TOO_MANY_REQUESTS) {
    return { kind: 'transient', httpStatus, errorCode: 'provider_rate_limited', message, retryAfterSeconds };
  }
  if (httpStatus >= 500 || httpStatus === 408) {
    return { kind: 'transient', httpStatus, errorCode: 'provider_unavailable', message, retryAfterSeconds, ambiguous: httpStatus !== 503 };
  }
  const numberError = code === undefined ? undefined : NUMBER_ERRORS[code];
  if (numberError) return { kind: 'permanent', httpStatus, errorCode: numberError, message };
  if (httpStatus === 401 || httpStatus === 403) return { kind: 'permanent', httpStatus, errorCode: 'provider_unauthorized', message };
  if (httpStatus === 404) return { kind: 'permanent', httpStatus, errorCode: 'provider_endpoint_not_found', message };
  return { kind: 'permanent', httpStatus, errorCode: 'provider_rejected_request', message };
}

/** `twilio <code>: <message>` with digit runs redacted (Twilio echoes the number in its messages). */
function errorText(text: string, httpStatus: number): string {
  const parsed = ErrorDocument.safeParse(parseJson(text));
  const detail = parsed.success && (parsed.data.code !== undefined || parsed.data.message) ? parsed.data : undefined;
  if (!detail) return `HTTP ${httpStatus}`;
  return `twilio ${detail.code ?? httpStatus}: ${redactDigits(detail.message ?? '')}`.slice(0, 200);
}
