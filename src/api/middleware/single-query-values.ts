import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../../errors';
import type { AppEnv } from '../app-env';

/**
 * Refuses a query parameter given more than once (`?limit=1&limit=2`). No route takes a list
 * that way (lists are comma-separated), and guessing which value was meant would hide the
 * mistake; left to the validators, the repeated value would reach them as an array.
 */
export function singleQueryValues(): MiddlewareHandler<AppEnv> {
  return async function singleQueryValuesMiddleware(c, next) {
    const seen = new Set<string>();
    for (const name of new URL(c.req.url).searchParams.keys()) {
      if (seen.has(name)) {
        const shown = name.slice(0, 64);
        throw new ApiError('invalid_request', `${shown}: given more than once; give each query parameter at most once`, {
          details: { parameter: shown },
        });
      }
      seen.add(name);
    }
    await next();
  };
}
