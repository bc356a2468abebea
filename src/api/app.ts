import { OpenAPIHono } from '@hono/zod-openapi';
import { secureHeaders } from 'hono/secure-headers';
import { allowedMethodsOf } from './allowed-methods';
import type { AppEnv } from './app-env';
import { notFoundHandler, onError } from './error-handler';
import { corsForApps } from './middleware/cors-for-apps';
import { developmentApp } from './middleware/development-app';
import { developmentLocalOnly } from './middleware/development-local-only';
import { jsonBody } from './middleware/json-body';
import { loadConfigMiddleware } from './middleware/load-config';
import { singleQueryValues } from './middleware/single-query-values';
import { traceId } from './middleware/trace-id';
import { DOCUMENT_CONFIG, OPENAPI_PATH, PUBLIC, registerSecuritySchemes, tag } from './openapi-document';
import { ANY_ROUTE, errorResponses, responseHeaders } from './openapi-responses';
import { registerWebhookEvents } from './openapi-webhooks';
import { adminRoutes } from './routes/admin';
import { dashboardRoutes } from './routes/dashboard';
import { jwksRoutes } from './routes/jwks';
import { metaRoutes } from './routes/meta';
import { otpRoutes } from './routes/otp';
import { sandboxRoutes } from './routes/sandbox';
import { sessionRoutes } from './routes/session';
import { staticFileRoutes } from './routes/static-files';

/** Request bodies here are a phone number or a code: a few KiB is generous. */
export const MAX_BODY_BYTES = 4096;

export function createApp() {
  const app = new OpenAPIHono<AppEnv>();
  app.use(traceId());
  app.use(secureHeaders());
  app.use(loadConfigMiddleware());
  app.use(developmentLocalOnly());
  app.use(developmentApp());
  app.use('/v1/*', corsForApps());
  const appBodies = jsonBody({ maxBytes: MAX_BODY_BYTES });
  const appQueries = singleQueryValues();
  // Admin routes check their input themselves, after the bearer token (routes/admin.ts).
  const isAdmin = (path: string) => path.startsWith('/v1/admin/');
  app.use('/v1/*', (c, next) => (isAdmin(c.req.path) ? next() : appBodies(c, next)));
  app.use((c, next) => (isAdmin(c.req.path) ? next() : appQueries(c, next)));

  app.route('/', metaRoutes);
  app.route('/', jwksRoutes);
  app.route('/', otpRoutes);
  app.route('/', sessionRoutes);
  app.route('/', sandboxRoutes);
  app.route('/', adminRoutes);
  app.route('/', dashboardRoutes);
  app.route('/', staticFileRoutes);

  registerSecuritySchemes(app);
  registerWebhookEvents(app);
  app.doc31(OPENAPI_PATH, DOCUMENT_CONFIG);
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: OPENAPI_PATH,
    operationId: 'getOpenApiDocument',
    tags: tag('Service'),
    security: PUBLIC,
    summary: 'This OpenAPI 3.1 document',
    responses: {
      200: { description: 'The document', headers: responseHeaders(), content: { 'application/json': { schema: { type: 'object' } } } },
      ...errorResponses(ANY_ROUTE),
    },
  });
  app.onError(onError);
  app.notFound(notFoundHandler(allowedMethodsOf(app.routes)));
  return app;
}
