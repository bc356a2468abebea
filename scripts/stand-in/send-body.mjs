/** The body of POST /otp/send: validated as StartMessaging does, and peeked at for the call log. */

const E164 = /^\+[1-9]\d{6,14}$/;
const OTP = /^\d{4,8}$/;
const MAX_KEY_LENGTH = 255;

/** Validates a send body; returns { value } or { error: [code, message] }. */
export function validate(text, headers, requireIdempotencyKey) {
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return { error: ['INVALID_JSON', 'The request body is not valid JSON'] };
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return { error: ['INVALID_BODY', 'The request body must be a JSON object'] };
  const { phoneNumber, variables, idempotencyKey } = body;
  if (typeof phoneNumber !== 'string' || phoneNumber === '') return { error: ['MISSING_PHONE_NUMBER', 'phoneNumber is required'] };
  if (!E164.test(phoneNumber)) return { error: ['INVALID_PHONE_NUMBER', 'phoneNumber must be in E.164 format'] };
  if (!variables || typeof variables !== 'object' || Array.isArray(variables)) return { error: ['MISSING_VARIABLES', 'variables.otp is required'] };
  if (variables.otp === undefined || variables.otp === null || variables.otp === '') return { error: ['MISSING_OTP', 'variables.otp is required'] };
  if (typeof variables.otp !== 'string' || !OTP.test(variables.otp)) return { error: ['INVALID_OTP', 'variables.otp must be a string of 4 to 8 digits'] };
  const headerKey = headers['idempotency-key'] ?? headers['x-idempotency-key'];
  if (idempotencyKey !== undefined && (typeof idempotencyKey !== 'string' || idempotencyKey === '' || idempotencyKey.length > MAX_KEY_LENGTH)) {
    return { error: ['INVALID_IDEMPOTENCY_KEY', `idempotencyKey must be a string of 1 to ${MAX_KEY_LENGTH} characters`] };
  }
  if (idempotencyKey !== undefined && headerKey !== undefined && headerKey !== idempotencyKey) {
    return { error: ['IDEMPOTENCY_KEY_MISMATCH', 'The Idempotency-Key header differs from the idempotencyKey field'] };
  }
  const key = idempotencyKey ?? headerKey;
  if (key === undefined && requireIdempotencyKey) return { error: ['MISSING_IDEMPOTENCY_KEY', 'idempotencyKey is required'] };
  if (key !== undefined && (key === '' || key.length > MAX_KEY_LENGTH)) {
    return { error: ['INVALID_IDEMPOTENCY_KEY', `idempotencyKey must be a string of 1 to ${MAX_KEY_LENGTH} characters`] };
  }
  return { value: { phoneNumber, otp: variables.otp, key } };
}

/** Records what a parseable body carried, for stats and audits, whatever the answer was. */
export function peek(text, headers) {
  try {
    const body = JSON.parse(text);
    const headerKey = headers['idempotency-key'] ?? headers['x-idempotency-key'] ?? null;
    return {
      idempotencyKey: typeof body?.idempotencyKey === 'string' ? body.idempotencyKey : headerKey,
      bodyIdempotencyKey: typeof body?.idempotencyKey === 'string' ? body.idempotencyKey : null,
      headerIdempotencyKey: headerKey,
      phoneNumber: typeof body?.phoneNumber === 'string' ? body.phoneNumber : null,
      otp: typeof body?.variables?.otp === 'string' || typeof body?.variables?.otp === 'number' ? String(body.variables.otp) : null,
    };
  } catch {
    return { idempotencyKey: null, bodyIdempotencyKey: null, headerIdempotencyKey: null, phoneNumber: null, otp: null };
  }
}
