/**
 * What the consumer needs from an SMS vendor: send one code, and say what became of a sent
 * message. Each vendor is one file in this folder implementing `SmsProvider`, chosen in
 * `select-provider.ts`. Both answers come back already sorted into what to do next.
 */

/** How a code reaches the phone: a text message, or a WhatsApp message through a vendor that has it. */
export const CHANNELS = ['sms', 'whatsapp'] as const;
export type Channel = (typeof CHANNELS)[number];

/** What the message says besides the code: the app's name and, for autofill, its domain. */
export interface MessageText {
  appName: string | null;
  /** The `@domain #code` line (Android SMS Retriever / iOS domain-bound codes) is added when set. */
  smsDomain?: string;
  /** A template of the app's own (`{code}`, `{app}`), or a built-in one by locale. */
  smsTemplate?: string;
  smsLocale?: string;
}

export interface SendRequest {
  requestId: string;
  phoneNumber: string;
  code: string;
  idempotencyKey: string;
  /** 1 for the first provider call of this request. */
  attemptNumber: number;
  /** The app's message template at the provider (StartMessaging `templateId`), when it set one. */
  templateId?: string;
  /** `sms` when absent. */
  channel?: Channel;
  /** For vendors that take the whole text (Twilio); StartMessaging's templates live at the vendor. */
  text?: MessageText;
}

/** What one provider call came to, already sorted into what the consumer must do next. */
export type SendOutcome =
  | { kind: 'sent'; httpStatus: number | null; messageId: string | null }
  | {
      kind: 'transient';
      httpStatus: number | null;
      errorCode: string;
      message: string;
      retryAfterSeconds?: number;
      /**
       * The message may have gone out all the same (a timeout, a dropped connection, a 5xx from a
       * vendor without idempotency keys): calling that vendor again could send it twice.
       */
      ambiguous?: boolean;
    }
  | { kind: 'permanent'; httpStatus: number | null; errorCode: string; message: string };

/** What the provider says became of one message (`GET /messages/:messageId`). */
export const PROVIDER_MESSAGE_STATUSES = ['initiated', 'queued', 'sent', 'delivered', 'failed'] as const;
export type ProviderMessageStatus = (typeof PROVIDER_MESSAGE_STATUSES)[number];

/** One status check, already sorted into what the consumer must do next. */
export type StatusOutcome =
  /** The provider answered with the message's status; `initiated`, `queued` and `sent` are not final. */
  | {
      kind: 'report';
      httpStatus: number | null;
      status: ProviderMessageStatus;
      deliveredAt: number | null;
      errorMessage: string | null;
    }
  /** Worth asking again later (5xx, 429, timeout, network, unreadable body). */
  | { kind: 'transient'; httpStatus: number | null; errorCode: string; message: string; retryAfterSeconds?: number }
  /** Asking again will not help (unknown message id, refused credentials). */
  | { kind: 'permanent'; httpStatus: number | null; errorCode: string; message: string };

export interface SmsProvider {
  /** As recorded in `delivery_attempts.provider` and named in `PROVIDER_ORDER`. */
  readonly name: string;
  /**
   * Whether a repeated send with the same idempotency key is answered without a second message.
   * A vendor without that is never called again for a request after an ambiguous outcome.
   */
  readonly idempotent: boolean;
  readonly channels: readonly Channel[];
  send(request: SendRequest): Promise<SendOutcome>;
  messageStatus(messageId: string): Promise<StatusOutcome>;
}
