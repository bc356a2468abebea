import type { MiddlewareHandler } from 'hono';
import { timingSafeEqualStrings } from '../../crypto';
import { ApiError } from '../../errors';
import type { AppEnv } from '../app-env';
import { requireSecret } from '../required-secret';

/**
 * Operator endpoints need `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time.
 * With no ADMIN_TOKEN configured every admin route answers `500 configuration_error` naming it:
 * closed, never open by default, and no mode has a built-in token.
 */
export function adminAuth(): MiddlewareHandler<AppEnv> {
  return async function adminAuthMiddleware(c, next) {
    const expected = requireSecret(c.get('config'), 'ADMIN_TOKEN', c.req.path);
    const presented = /^Bearer\s+(.+)$/i.exec(c.req.header('Authorization') ?? '')?.[1]?.trim();
    if (!presented || !(await timingSafeEqualStrings(presented, expected))) {
      throw new ApiError('unauthorized', 'A valid admin bearer token is required', { headers: { 'WWW-Authenticate': 'Bearer' } });
    }
    await next();
  };
}
