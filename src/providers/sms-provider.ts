/**
 * What the consumer needs from an SMS vendor: send one code, and say what became of a sent
 * message. Each vendor is one file in this folder implementing `SmsProvider`, chosen in
 * `select-provider.ts`. Both answers come back already sorted into what to do next.
 */

export interface SendRequest {
  requestId: string;
  phoneNumber: string;
  code: string;
  idempotencyKey: string;
  /** 1 for the first provider call of this request. */
  attemptNumber: number;
  /** The app's message template at the provider (StartMessaging `templateId`), when it set one. */
  templateId?: string;
}

/** What one provider call came to, already sorted into what the consumer must do next. */
export type SendOutcome =
  | { kind: 'sent'; httpStatus: number | null; messageId: string | null }
  | { kind: 'transient'; httpStatus: number | null; errorCode: string; message: string; retryAfterSeconds?: number }
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
  send(request: SendRequest): Promise<SendOutcome>;
  messageStatus(messageId: string): Promise<StatusOutcome>;
}
