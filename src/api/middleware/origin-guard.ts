import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../../errors';
import type { AppEnv } from '../app-env';

/**
 * Refuses cross-site use of the endpoints that set or read the session cookie. SameSite=Lax
 * already keeps the cookie off cross-site POSTs; this also refuses any request whose `Origin`
 * is neither this service nor a configured app origin, and any browser request the browser
 * itself labels cross-site (`Sec-Fetch-Site`) from an origin not allowed.
 */
export function originGuard(): MiddlewareHandler<AppEnv> {
  return async function originGuardMiddleware(c, next) {
    const origin = c.req.header('Origin');
    // An app's own allowed origins count too, once its key has been checked (the verify route).
    const allowed = new Set([new URL(c.req.url).origin, ...c.get('config').cors.allowedOrigins, ...(c.get('caller')?.settings.allowedOrigins ?? [])]);
    const crossSite = c.req.header('Sec-Fetch-Site') === 'cross-site';
    if ((origin !== undefined && !allowed.has(origin)) || (crossSite && (origin === undefined || !allowed.has(origin)))) {
      throw new ApiError('forbidden_origin', 'This endpoint does not accept requests from that origin');
    }
    await next();
  };
}
