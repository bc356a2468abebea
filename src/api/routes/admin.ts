import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { adminAuth } from '../middleware/admin-auth';
import { jsonBody } from '../middleware/json-body';
import { noStore } from '../middleware/no-store';
import { singleQueryValues } from '../middleware/single-query-values';
import { adminAlertRoutes } from './admin-alerts';
import { adminAppKeyRoutes } from './admin-app-keys';
import { adminAppRoutes } from './admin-apps';
import { adminAttemptRoutes } from './admin-attempts';
import { adminConversionScopeRoutes } from './admin-conversion-scopes';
import { adminErasureRoutes } from './admin-erasures';
import { adminLockedPhoneRoutes } from './admin-locked-phones';
import { adminPrefixBlockRoutes } from './admin-prefix-blocks';
import { adminProviderRoutes } from './admin-providers';
import { adminRequestRoutes } from './admin-requests';
import { adminResendRoutes } from './admin-resends';
import { adminSessionRoutes } from './admin-sessions';
import { adminStatsRoutes } from './admin-stats';
import { adminWebhookDeliveryRoutes } from './admin-webhook-deliveries';
import { adminWebhookRoutes } from './admin-webhooks';

/** A bulk resend may list up to a thousand phone numbers or request ids. */
export const ADMIN_MAX_BODY_BYTES = 64 * 1024;

/** Operator endpoints under /v1/admin. Every route here is behind the admin bearer token. */
export const adminRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
adminRoutes.use('/v1/admin/*', adminAuth());
// After the token check, so that without a token every admin route answers 401 and nothing else.
adminRoutes.use('/v1/admin/*', jsonBody({ maxBytes: ADMIN_MAX_BODY_BYTES }));
adminRoutes.use('/v1/admin/*', singleQueryValues());
// Answers about apps carry keys (shown once) and settings: never cached.
adminRoutes.use('/v1/admin/apps', noStore());
adminRoutes.use('/v1/admin/apps/*', noStore());

adminRoutes.route('/', adminRequestRoutes);
adminRoutes.route('/', adminAttemptRoutes);
adminRoutes.route('/', adminStatsRoutes);
adminRoutes.route('/', adminResendRoutes);
adminRoutes.route('/', adminPrefixBlockRoutes);
adminRoutes.route('/', adminConversionScopeRoutes);
adminRoutes.route('/', adminSessionRoutes);
adminRoutes.route('/', adminLockedPhoneRoutes);
adminRoutes.route('/', adminProviderRoutes);
adminRoutes.route('/', adminAppRoutes);
adminRoutes.route('/', adminAppKeyRoutes);
adminRoutes.route('/', adminWebhookRoutes);
adminRoutes.route('/', adminWebhookDeliveryRoutes);
adminRoutes.route('/', adminAlertRoutes);
adminRoutes.route('/', adminErasureRoutes);
