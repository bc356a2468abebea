import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env';
import { docsPage } from '../docs-page';

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
  .openapi(health, (c) => c.json({ ok: true as const, providerMode: c.get('config').providerMode }, 200))
  .get('/docs', (c) => c.html(docsPage('/openapi.json')));
