import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import type { AppEnv } from '../app-env';

/**
 * CORS for the app origins listed in CORS_ALLOWED_ORIGINS, with credentials (the session
 * cookie). The list holds exact origins only (config refuses `*`), and an origin not on it gets
 * no CORS headers at all.
 */
export function corsForApps(): MiddlewareHandler<AppEnv> {
  return async function corsForAppsMiddleware(c, next) {
    const allowed = c.get('config').cors.allowedOrigins;
    return cors({
      origin: (origin) => (allowed.includes(origin) ? origin : null),
      credentials: true,
      allowMethods: ['GET', 'POST', 'OPTIONS'],
      allowHeaders: ['Content-Type', 'Idempotency-Key'],
      exposeHeaders: ['Location', 'Retry-After', 'RateLimit', 'RateLimit-Policy', 'X-Request-Id', 'Idempotent-Replayed'],
      maxAge: 600,
    })(c, next);
  };
}
