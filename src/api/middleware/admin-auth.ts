import type { MiddlewareHandler } from 'hono';
import { adminTokenFor } from '../../config';
import { timingSafeEqualStrings } from '../../crypto';
import { ApiError } from '../../errors';
import { logError } from '../../log';
import type { AppEnv } from '../app-env';

/**
 * Operator endpoints need `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time.
 * With no ADMIN_TOKEN configured every admin route answers 401: closed, never open by default.
 * The one exception is sandbox mode, which has a fixed development token (`adminTokenFor`).
 */
export function adminAuth(): MiddlewareHandler<AppEnv> {
  return async function adminAuthMiddleware(c, next) {
    const expected = adminTokenFor(c.get('config'));
    const presented = /^Bearer\s+(.+)$/i.exec(c.req.header('Authorization') ?? '')?.[1]?.trim();
    if (!expected) {
      logError('admin.no_token_configured', { path: c.req.path });
      throw new ApiError('unauthorized', 'Admin access is not configured', { headers: { 'WWW-Authenticate': 'Bearer' } });
    }
    if (!presented || !(await timingSafeEqualStrings(presented, expected))) {
      throw new ApiError('unauthorized', 'A valid admin bearer token is required', { headers: { 'WWW-Authenticate': 'Bearer' } });
    }
    await next();
  };
}
