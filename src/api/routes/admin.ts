import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { adminAuth } from '../middleware/admin-auth';
import { prefixBlockRoutes } from './admin-prefix-blocks';

/** Operator endpoints under /v1/admin. Every route here is behind the admin bearer token. */
export const adminRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
adminRoutes.use('/v1/admin/*', adminAuth());
adminRoutes.route('/', prefixBlockRoutes);
