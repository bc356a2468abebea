import type { MiddlewareHandler } from 'hono';
import { ensureDevelopmentApp } from '../../apps/development-app';
import { errorName, logWarn } from '../../log';
import type { AppEnv } from '../app-env';

/**
 * In the development environment only, makes sure the documented development app and its keys
 * exist before the first request is served (once per isolate), so `npm run dev` needs no set-up.
 */
export function developmentApp(): MiddlewareHandler<AppEnv> {
  return async function developmentAppMiddleware(c, next) {
    if (c.get('config').environment === 'development') {
      await ensureDevelopmentApp(c.env.DB, Date.now()).catch((error) => logWarn('app.development_seed_failed', { error: errorName(error) }));
    }
    await next();
  };
}
