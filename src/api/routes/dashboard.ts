import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env';
import { PUBLIC, tag } from '../openapi-document';
import { ANY_ROUTE, errorResponses, responseHeaders } from '../openapi-responses';
import { servePublicFile, withoutDevelopmentOnly } from '../public-files';

/**
 * The operator dashboard, public/dashboard.html with its script and style sheet in public/static/.
 * It is public (it holds no data); the operator signs in with the admin token, which the page keeps
 * in sessionStorage and sends as a bearer header to /v1/admin. Only this origin's own files run or
 * apply: no inline script or style, so nothing injected into the page could run.
 */
export const dashboardRoutes = new OpenAPIHono<AppEnv>();
dashboardRoutes.get('/admin', async (c) => {
  const page = await servePublicFile(c, '/dashboard.html');
  page.headers.set(
    'Content-Security-Policy',
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
      "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  );
  page.headers.set('Cache-Control', 'no-store');
  page.headers.set('Referrer-Policy', 'no-referrer');
  return withoutDevelopmentOnly(page, c.get('config').environment === 'development');
});

dashboardRoutes.openAPIRegistry.registerPath({
  method: 'get',
  path: '/admin',
  operationId: 'dashboardPage',
  tags: tag('Service'),
  security: PUBLIC,
  summary: 'The operators’ dashboard, as a page',
  description: 'The page holds no data; it asks for the admin token and calls the admin routes with it (docs/operators.md#the-dashboard).',
  responses: {
    200: {
      description: 'The page; its `ETag` only in the development environment, where the page is served as the file is',
      headers: responseHeaders('Content-Security-Policy', 'Cache-Control', 'ETag'),
      content: { 'text/html': { schema: z.string() } },
    },
    ...errorResponses(ANY_ROUTE),
  },
});
