import type { MiddlewareHandler } from 'hono';
import { loadConfig } from '../../config';
import type { AppEnv } from '../app-env';

/** Parses the config (once per isolate) before any route runs; a bad config answers 500 by name in the logs. */
export function loadConfigMiddleware(): MiddlewareHandler<AppEnv> {
  return async function loadConfigMiddleware(c, next) {
    c.set('config', loadConfig(c.env));
    await next();
  };
}
