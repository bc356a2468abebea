import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env';
import { servePublicFile } from '../public-files';

const health = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness',
  responses: {
    200: {
      description: 'The Worker is up and its configuration is valid',
      content: { 'application/json': { schema: z.object({ ok: z.literal(true), providerMode: z.string() }) } },
    },
  },
});

export const metaRoutes = new OpenAPIHono<AppEnv>()
  .openapi(health, (c) => c.json({ ok: true as const, providerMode: c.get('config').provider.mode }, 200))
  .get('/docs', async (c) => {
    // public/docs.html: an interactive page for the OpenAPI document, self-contained (no CDN), so
    // it also works in local development without internet. Its script and style sheet are this
    // origin's files; it calls this origin only: for the spec, and for the requests it tries.
    const page = await servePublicFile(c, '/docs.html');
    page.headers.set(
      'Content-Security-Policy',
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    return page;
  });
