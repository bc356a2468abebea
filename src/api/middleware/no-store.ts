import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env';

/** Answers no cache may keep (they hold keys or settings), error answers included. */
export function noStore(): MiddlewareHandler<AppEnv> {
  return async function noStoreMiddleware(c, next) {
    await next();
    c.header('Cache-Control', 'no-store');
  };
}
