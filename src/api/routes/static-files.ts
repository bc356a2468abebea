import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env';
import { PUBLIC, tag } from '../openapi-document';
import { ANY_ROUTE, errorResponses, responseHeaders } from '../openapi-responses';
import { servePublicFile } from '../public-files';

/** The pages' scripts and style sheets: public/static/, as files, revalidated by ETag. */
export const staticFileRoutes = new OpenAPIHono<AppEnv>();
staticFileRoutes.get('/static/*', (c) => servePublicFile(c, c.req.path, { conditional: true }));

staticFileRoutes.openAPIRegistry.registerPath({
  method: 'get',
  path: '/static/{file}',
  operationId: 'staticFile',
  tags: tag('Service'),
  security: PUBLIC,
  summary: 'A script or style sheet of the pages',
  request: { params: z.object({ file: z.string().openapi({ description: 'A path under public/static/', example: 'docs.js' }) }) },
  responses: {
    200: {
      description: 'The file',
      headers: responseHeaders('ETag', 'Cache-Control'),
      content: { 'text/javascript': { schema: z.string() }, 'text/css': { schema: z.string() } },
    },
    304: { description: 'Not modified: `If-None-Match` named the current `ETag`', headers: responseHeaders('ETag', 'Cache-Control') },
    ...errorResponses(ANY_ROUTE, ['not_found']),
  },
});
