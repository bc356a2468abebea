import type { ClaimedEvent } from '../db/webhook-delivery';
import { maskPhoneNumber } from '../phone';

/**
 * The JSON body of an event, as documented in docs/webhooks.md#payload. Never the code; the
 * number in full only when the app's webhook asks for it (`includePhoneNumber`), masked otherwise,
 * and null once the request itself has been deleted (a redelivery after retention).
 */
export function eventBody(event: ClaimedEvent, includePhoneNumber: boolean): string {
  const occurredAt = new Date(event.occurred_at).toISOString();
  const phoneNumber = event.phone_number === null ? null : includePhoneNumber ? event.phone_number : maskPhoneNumber(event.phone_number);
  return JSON.stringify({
    id: event.id,
    type: event.type,
    timestamp: occurredAt,
    data: {
      requestId: event.request_id,
      appId: event.app_id,
      status: event.type.slice('otp.'.length),
      occurredAt,
      errorCode: event.error_code,
      provider: event.provider,
      channel: event.channel,
      phoneNumber,
    },
  });
}
