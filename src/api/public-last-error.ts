/**
 * What unauthenticated callers of `GET /v1/otp/:id` learn about a request's last error: its code
 * and a fixed sentence per code. The stored message can hold the provider's own text, which is
 * neither ours to vouch for nor safe to pass on (it may carry markup); operators read it in the
 * admin API.
 */
export const PUBLIC_ERROR_MESSAGES: Readonly<Record<string, string>> = {
  // A provider call's outcome (providers/startmessaging.ts, providers/provider-http.ts, providers/sandbox.ts).
  provider_timeout: 'The SMS provider did not answer in time',
  provider_network_error: 'The SMS provider could not be reached',
  provider_unavailable: 'The SMS provider is temporarily unavailable',
  provider_rate_limited: 'The SMS provider asked for fewer messages at a time',
  provider_bad_response: 'The SMS provider answered in a form that could not be read',
  provider_rejected_request: 'The SMS provider refused to send this message',
  provider_unauthorized: 'The SMS service is not set up correctly; the operator can see why',
  provider_forbidden: 'The SMS service is not set up correctly; the operator can see why',
  provider_insufficient_balance: 'The SMS service is not set up correctly; the operator can see why',
  provider_endpoint_not_found: 'The SMS service is not set up correctly; the operator can see why',
  provider_idempotency_conflict: 'The SMS provider refused this message as a conflicting repeat',
  provider_message_not_found: 'The SMS provider has no record of this message',
  // Twilio's refusals about the number (providers/twilio.ts).
  provider_invalid_number: 'The provider says this is not a valid phone number',
  provider_not_mobile: 'The provider says this number cannot receive text messages',
  provider_recipient_opted_out: 'This number has opted out of messages from this sender',
  provider_unreachable_number: 'The provider cannot reach this number',
  provider_channel_unavailable: 'The provider cannot send on this channel',
  // What the consumer concludes (consumer/send-batch.ts, retry-policy.ts, record-dead-letters.ts, cron/sweeper.ts).
  provider_error: 'The message could not be handed to the SMS provider',
  provider_misconfigured: 'The SMS service is not set up correctly; the operator can see why',
  provider_delivery_failed: 'The SMS provider reports that the message was not delivered',
  retries_exhausted: 'Sending failed on every attempt',
  expired_before_delivery: 'The code expired before it could be sent',
  // Routing (consumer/attempt-send.ts, consumer/send-batch.ts).
  provider_outcome_unknown: 'An earlier attempt may have delivered the code; it was not sent again',
  channel_unavailable: 'No provider can send on the channel asked for',
  // Said by the status view itself (request-view.ts).
  code_expired: 'The code expired before it was verified',
};

export const GENERIC_ERROR_MESSAGE = 'The code could not be delivered';

export function publicLastError(code: string): { code: string; message: string } {
  return { code, message: Object.hasOwn(PUBLIC_ERROR_MESSAGES, code) ? PUBLIC_ERROR_MESSAGES[code]! : GENERIC_ERROR_MESSAGE };
}
