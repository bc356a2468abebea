import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { base64Url } from '../../crypto';
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
  .get('/docs', (c) => {
    const nonce = base64Url(crypto.getRandomValues(new Uint8Array(16)));
    // The page runs its own script and style (by nonce) and calls this origin only: for the
    // spec, and for the requests it sends when an operation is tried.
    c.header(
      'Content-Security-Policy',
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; ` +
        `base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    );
    return c.html(docsPage('/openapi.json', nonce));
  });
