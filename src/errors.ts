import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';

/** The closed set of error codes the API answers with; clients may switch on them. */
export const ErrorCode = z.enum([
  'invalid_request',
  'invalid_json',
  'invalid_phone_number',
  'country_not_allowed',
  'channel_not_available',
  'invalid_idempotency_key',
  'idempotency_key_conflict',
  'unsupported_media_type',
  'payload_too_large',
  'not_found',
  'method_not_allowed',
  'request_in_progress',
  'phone_rate_limited',
  'ip_rate_limited',
  'prefix_rate_limited',
  'prefix_blocked',
  'phone_locked',
  'invalid_code',
  'invalid_code_format',
  'too_many_attempts',
  'expired',
  'already_verified',
  'superseded',
  'unauthorized',
  'invalid_api_key',
  'key_not_allowed',
  'forbidden_origin',
  'app_budget_exhausted',
  'turnstile_required',
  'turnstile_failed',
  'turnstile_unavailable',
  'service_unavailable',
  'global_budget_exhausted',
  'limiter_unavailable',
  'configuration_error',
  'internal_error',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const codeToStatus: Record<ErrorCode, ContentfulStatusCode> = {
  invalid_request: 400,
  invalid_json: 400,
  invalid_phone_number: 400,
  country_not_allowed: 422,
  channel_not_available: 422,
  invalid_idempotency_key: 400,
  idempotency_key_conflict: 422,
  unsupported_media_type: 415,
  payload_too_large: 413,
  not_found: 404,
  method_not_allowed: 405,
  request_in_progress: 409,
  phone_rate_limited: 429,
  ip_rate_limited: 429,
  prefix_rate_limited: 429,
  prefix_blocked: 429,
  phone_locked: 429,
  invalid_code: 400,
  invalid_code_format: 400,
  too_many_attempts: 429,
  expired: 410,
  already_verified: 409,
  superseded: 410,
  unauthorized: 401,
  invalid_api_key: 401,
  key_not_allowed: 403,
  forbidden_origin: 403,
  app_budget_exhausted: 429,
  turnstile_required: 400,
  turnstile_failed: 403,
  turnstile_unavailable: 503,
  service_unavailable: 503,
  global_budget_exhausted: 503,
  limiter_unavailable: 503,
  configuration_error: 500,
  internal_error: 500,
};

export class ApiError extends HTTPException {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: { headers?: Record<string, string>; details?: Record<string, unknown> } = {},
  ) {
    super(codeToStatus[code], { message });
    this.name = 'ApiError';
  }
}
