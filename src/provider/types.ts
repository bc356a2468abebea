export interface SendRequest {
  requestId: string;
  phoneNumber: string;
  code: string;
  idempotencyKey: string;
  /** 1 for the first provider call of this request. */
  attemptNumber: number;
}

/** What one provider call came to, already sorted into what the consumer must do next. */
export type SendOutcome =
  | { kind: 'sent'; httpStatus: number | null; messageId: string | null }
  | { kind: 'transient'; httpStatus: number | null; errorCode: string; message: string; retryAfterSeconds?: number }
  | { kind: 'permanent'; httpStatus: number | null; errorCode: string; message: string };

export interface SmsProvider {
  send(request: SendRequest): Promise<SendOutcome>;
}
