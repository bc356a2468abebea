import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { ApiError } from '../../errors';
import { prefixGuardFor } from '../../limiter/limiter-client';
import type { PrefixBlock } from '../../limiter/prefix-guard';
import { prefixBlocksFor } from '../../prefix-blocks';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { errorResponses } from '../schemas';

const PrefixSchema = z
  .string()
  .regex(/^\+[1-9]\d{0,14}$/, { error: 'must be + and the leading digits of numbers, e.g. +91987' })
  .openapi({ example: '+88216' });

const Block = z
  .object({
    prefix: z.string(),
    reason: z.enum(['low_conversion', 'sequential_numbers', 'operator']),
    note: z.string().nullable(),
    since: z.string().openapi({ format: 'date-time' }),
    until: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('PrefixBlock');

const security = [{ adminBearer: [] }];

const list = createRoute({
  method: 'get',
  path: '/v1/admin/prefix-blocks',
  summary: 'Destination prefixes currently blocked (automatically or by an operator)',
  security,
  responses: {
    200: { description: 'Active blocks, newest first', content: { 'application/json': { schema: z.object({ blocks: z.array(Block) }) } } },
    ...errorResponses(401),
  },
});

const create = createRoute({
  method: 'post',
  path: '/v1/admin/prefix-blocks',
  summary: 'Block sends to a destination prefix ahead of time',
  description: 'The prefix is matched the way the limiter keys prefixes: "+" and the first five digits of the number.',
  security,
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z
            .object({
              prefix: PrefixSchema,
              durationSeconds: z.number().int().min(60).max(365 * 86400).default(43200),
              note: z.string().max(200).optional(),
            })
            .strict(),
        },
      },
    },
  },
  responses: {
    201: { description: 'Blocked', content: { 'application/json': { schema: Block } } },
    ...errorResponses(400, 401),
  },
});

const lift = createRoute({
  method: 'delete',
  path: '/v1/admin/prefix-blocks/{prefix}',
  summary: 'Lift a prefix block; its pumping signals start counting afresh',
  security,
  request: { params: z.object({ prefix: PrefixSchema }) },
  responses: {
    200: { description: 'Lifted', content: { 'application/json': { schema: z.object({ lifted: Block }) } } },
    ...errorResponses(400, 401, 404),
  },
});

const view = (block: PrefixBlock) => ({
  prefix: block.prefix,
  reason: block.reason,
  note: block.note,
  since: new Date(block.blockedAt).toISOString(),
  until: new Date(block.until).toISOString(),
});

/** Operators list, pre-set and lift prefix blocks; the PrefixGuard objects enforce them. */
export const adminPrefixBlockRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(list, async (c) => {
    const blocks = await prefixBlocksFor(c.env).listActive();
    c.header('Cache-Control', 'no-store');
    return c.json({ blocks: blocks.map(view) }, 200);
  })
  .openapi(create, async (c) => {
    const { prefix, durationSeconds, note } = c.req.valid('json');
    const block = await prefixGuardFor(c.env, prefix).block({ prefix, seconds: durationSeconds, note });
    return c.json(view(block), 201);
  })
  .openapi(lift, async (c) => {
    const { prefix } = c.req.valid('param');
    const lifted = await prefixGuardFor(c.env, prefix).lift();
    if (!lifted) throw new ApiError('not_found', `No active block for ${prefix}`);
    return c.json({ lifted: view(lifted) }, 200);
  });
