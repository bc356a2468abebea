import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from '../../errors';
import type { AppEnv } from '../app-env';

const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Refuses request bodies that are not JSON (415) or larger than `maxBytes` (413) before anything
 * parses them, so an oversized or foreign body costs nothing further.
 */
export function jsonBody(options: { maxBytes: number }): MiddlewareHandler<AppEnv> {
  const limit = bodyLimit({
    maxSize: options.maxBytes,
    onError: () => {
      throw new ApiError('payload_too_large', `Request bodies are limited to ${options.maxBytes} bytes`);
    },
  });
  return async function jsonBodyMiddleware(c, next) {
    if (!METHODS_WITH_BODY.has(c.req.method)) return next();
    const contentType = c.req.header('Content-Type');
    const hasBody = contentType !== undefined || Number(c.req.header('Content-Length') ?? 0) > 0 || c.req.header('Transfer-Encoding') !== undefined;
    if (hasBody && !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType ?? '')) {
      throw new ApiError('unsupported_media_type', 'Request bodies must be JSON (Content-Type: application/json)');
    }
    return limit(c, next);
  };
}
