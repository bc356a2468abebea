import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { z } from 'zod';
import { ConfigError } from '../config';
import { ApiError, codeToStatus, type ErrorCode } from '../errors';
import { errorName, logError } from '../log';
import type { AppEnv } from './app-env';

/** The one error answer: `{ error: { code, message, requestId } }`, never a stack trace. */
export function errorResponse(c: Context<AppEnv>, code: ErrorCode, message: string, extra: ApiError['extra'] = {}) {
  const body = { error: { code, message, requestId: c.get('traceId') ?? 'unknown', ...extra.details } };
  return c.json(body, codeToStatus[code], extra.headers);
}

export const onError: ErrorHandler<AppEnv> = (error, c) => {
  if (error instanceof ApiError) return errorResponse(c, error.code, error.message, error.extra);
  if (error instanceof ConfigError) {
    logError('config.invalid', { problems: error.problems.join('; '), traceId: c.get('traceId') });
    return errorResponse(c, 'configuration_error', 'The service is misconfigured; the operator has been told why in the logs');
  }
  if (error instanceof HTTPException && error.status < 500) {
    // Hono's own body parsing and limits throw these for malformed input.
    const code: ErrorCode = error.status === 413 ? 'payload_too_large' : error.status === 415 ? 'unsupported_media_type' : 'invalid_json';
    return errorResponse(c, code, error.status === 400 ? 'The request body is not valid JSON' : error.message);
  }
  if (isStorageOutage(error)) {
    // D1 or a Durable Object is unreachable: a passing fault the caller may retry, not a bug.
    logError('api.storage_unavailable', { error: errorName(error), path: c.req.path, traceId: c.get('traceId') });
    return errorResponse(c, 'service_unavailable', 'Storage is briefly unavailable; try again shortly', { headers: { 'Retry-After': '5' } });
  }
  logError('api.unhandled_error', { error: errorName(error), path: c.req.path, traceId: c.get('traceId') });
  return errorResponse(c, 'internal_error', 'Something went wrong on our side; it has been logged');
};

/** D1 reports its faults as `D1_…` errors; Durable Object faults carry `retryable` or `overloaded`. */
function isStorageOutage(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const flags = error as Error & { retryable?: boolean; overloaded?: boolean };
  return /^D1_/.test(error.message) || flags.retryable === true || flags.overloaded === true;
}

/** No route for this method: 405 with `Allow` when the path has routes for other methods, else 404. */
export function notFoundHandler(allowedMethods: (path: string) => string[]): NotFoundHandler<AppEnv> {
  return (c) => {
    const allowed = allowedMethods(c.req.path);
    if (allowed.length > 0 && !allowed.includes(c.req.method)) {
      return errorResponse(c, 'method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}; it answers ${allowed.join(', ')}`, {
        headers: { Allow: allowed.join(', ') },
      });
    }
    return errorResponse(c, 'not_found', `No route for ${c.req.method} ${c.req.path}`);
  };
}

/**
 * Turns a zod validation failure into a 400. A bad phone number gets its own code because apps
 * show users a different message for it.
 */
export function validationHook(result: { success: boolean; error?: z.ZodError }, c: Context<AppEnv>) {
  if (result.success || !result.error) return;
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') ?? '';
  const code: ErrorCode = field === 'phoneNumber' ? 'invalid_phone_number' : 'invalid_request';
  const message = issue ? (field ? `${field}: ${issue.message}` : issue.message) : 'Invalid request';
  return errorResponse(c, code, message);
}
