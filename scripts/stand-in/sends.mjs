/**
 * Steps 6-8 of a send: validation, idempotency (keys scoped per account) and the new SMS, with
 * the messages this stand-in "sent" for GET /messages/:messageId.
 */
import { envelope, errorBody, MAX_BODY_BYTES, newId } from './http-io.mjs';
import { validate } from './send-body.mjs';

export function createSends({ callLog, requireIdempotencyKey }) {
  /** account -> key -> { phoneNumber, otp, status, body, messageId } (first successful send only) */
  let remembered = new Map();
  /** messageId -> { messageId, status, deliveredAt, phoneNumber, idempotencyKey } */
  let messages = new Map();

  /** Returns [status, body, headers?] and records the outcome on `record`. */
  function process_(record, account, text, tooLarge, headers) {
    if (tooLarge) {
      record.outcome = 'bad_request';
      return [413, errorBody(413, 'PAYLOAD_TOO_LARGE', `The request body exceeds ${MAX_BODY_BYTES} bytes`)];
    }
    const checked = validate(text, headers, requireIdempotencyKey);
    if (checked.error) {
      record.outcome = 'bad_request';
      record.errorCode = checked.error[0];
      return [400, errorBody(400, checked.error[0], checked.error[1])];
    }
    const { phoneNumber, otp, key } = checked.value;
    const accountKeys = remembered.get(account) ?? new Map();
    remembered.set(account, accountKeys);
    const known = key === undefined ? undefined : accountKeys.get(key);
    if (known) {
      if (known.phoneNumber !== phoneNumber || known.otp !== otp) {
        record.outcome = 'conflict';
        return [409, errorBody(409, 'IDEMPOTENCY_KEY_REUSED', 'This idempotency key was already used with different parameters')];
      }
      record.outcome = 'replay';
      record.messageId = known.messageId;
      return [known.status, known.body, { 'Idempotent-Replayed': 'true' }];
    }
    const messageId = newId('msg');
    const body = envelope(201, { data: { otpRequestId: newId('otp_req'), messageId, status: 'queued' } });
    if (key !== undefined) accountKeys.set(key, { phoneNumber, otp, status: 201, body, messageId });
    messages.set(messageId, { messageId, status: 'delivered', deliveredAt: new Date().toISOString(), phoneNumber, idempotencyKey: key ?? null });
    if (key !== undefined) callLog.keyStats(account, key).newSms += 1;
    record.outcome = 'sent';
    record.newSms = true;
    record.messageId = messageId;
    return [201, body];
  }

  return {
    process: process_,
    message: (messageId) => messages.get(messageId),
    messageCount: () => messages.size,
    reset() {
      remembered = new Map();
      messages = new Map();
    },
  };
}
