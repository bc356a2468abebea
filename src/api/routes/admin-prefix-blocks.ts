import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { prefixBlocksFor } from '../../prefix-blocks';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { errorResponses } from '../schemas';

const listBlocks = createRoute({
  method: 'get',
  path: '/v1/admin/prefix-blocks',
  summary: 'Destination prefixes currently closed to SMS (operators)',
  security: [{ adminBearer: [] }],
  responses: {
    200: {
      description: 'Active blocks',
      content: {
        'application/json': {
          schema: z.object({
            blocks: z.array(z.object({ prefix: z.string(), reason: z.string(), since: z.string(), until: z.string().nullable() })),
          }),
        },
      },
    },
    ...errorResponses(401),
  },
});

export const adminPrefixBlockRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(listBlocks, async (c) => {
  const blocks = await prefixBlocksFor(c.env, c.get('config')).listActive();
  c.header('Cache-Control', 'no-store');
  return c.json({ blocks }, 200);
});
