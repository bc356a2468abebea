import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env';
import { PUBLIC, tag } from '../openapi-document';
import { ANY_ROUTE, errorResponses, responseHeaders } from '../openapi-responses';
import { servePublicFile } from '../public-files';

/**
 * The docs page runs and applies this origin's files only (its own and Swagger UI's, no inline
 * script or style element) and sends requests to this origin only. Swagger UI draws its icons as
 * `data:` images.
 */
const DOCS_PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const health = createRoute({
  method: 'get',
  path: '/healthz',
  operationId: 'health',
  tags: tag('Service'),
  security: PUBLIC,
  summary: 'Liveness',
  responses: {
    200: {
      description: 'The Worker is up and its configuration is valid',
      headers: responseHeaders(),
      content: { 'application/json': { schema: z.object({ ok: z.literal(true), providerMode: z.string() }) } },
    },
    ...errorResponses(ANY_ROUTE),
  },
});

export const metaRoutes = new OpenAPIHono<AppEnv>();
metaRoutes.openapi(health, (c) => c.json({ ok: true as const, providerMode: c.get('config').provider.mode }, 200));
metaRoutes.get('/docs', async (c) => {
  // public/docs.html: Swagger UI on the OpenAPI document, from this Worker's own files (no CDN),
  // so it also works in local development without internet.
  const page = await servePublicFile(c, '/docs.html');
  page.headers.set('Content-Security-Policy', DOCS_PAGE_POLICY);
  return page;
});

metaRoutes.openAPIRegistry.registerPath({
  method: 'get',
  path: '/docs',
  operationId: 'docsPage',
  tags: tag('Service'),
  security: PUBLIC,
  summary: 'This reference, as a page (Swagger UI)',
  description:
    'Served from the Worker’s own files under a Content-Security-Policy that allows this origin only; operations can be tried with a key or the admin token, kept in the tab (sessionStorage).',
  responses: {
    200: {
      description: 'The page',
      headers: responseHeaders('Content-Security-Policy', 'Cache-Control', 'ETag'),
      content: { 'text/html': { schema: z.string() } },
    },
    ...errorResponses(ANY_ROUTE),
  },
});
