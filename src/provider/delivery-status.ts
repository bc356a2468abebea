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

export interface DeliveryStatusSource {
  messageStatus(messageId: string): Promise<StatusOutcome>;
}

export function isFinalReport(outcome: StatusOutcome): boolean {
  return outcome.kind === 'report' && (outcome.status === 'delivered' || outcome.status === 'failed');
}
