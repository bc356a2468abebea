import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { originsOfApps } from '../../apps/app-origins';
import { errorName, logWarn } from '../../log';
import type { AppEnv } from '../app-env';

/**
 * CORS for browser apps: the exact origins in CORS_ALLOWED_ORIGINS (config refuses `*`) and those
 * the apps allow for their publishable keys. Credentials are allowed (the session cookie of
 * same-site deployments); an origin on neither list gets no CORS headers at all. Which app may use
 * which origin is the key check's business (middleware/app-auth.ts), not this one's.
 */
export function corsForApps(): MiddlewareHandler<AppEnv> {
  return async function corsForAppsMiddleware(c, next) {
    const deploymentOrigins = c.get('config').cors.allowedOrigins;
    const origin = c.req.header('Origin');
    let appOrigins: ReadonlySet<string> = new Set();
    if (origin && !deploymentOrigins.includes(origin)) {
      // Without the list a browser gets no CORS answer; the request itself still runs or is refused on its own terms.
      appOrigins = await originsOfApps(c.env.DB, Date.now()).catch((error) => {
        logWarn('cors.app_origins_unavailable', { error: errorName(error) });
        return new Set<string>();
      });
    }
    return cors({
      origin: (candidate) => (deploymentOrigins.includes(candidate) || appOrigins.has(candidate) ? candidate : null),
      credentials: true,
      allowMethods: ['GET', 'POST', 'OPTIONS'],
      allowHeaders: ['Content-Type', 'Idempotency-Key', 'Authorization'],
      exposeHeaders: ['Location', 'Retry-After', 'RateLimit', 'RateLimit-Policy', 'X-Request-Id', 'Idempotent-Replayed'],
      maxAge: 600,
    })(c, next);
  };
}
