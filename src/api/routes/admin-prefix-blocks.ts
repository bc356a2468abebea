import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { ApiError } from '../../errors';
import { prefixGuardFor } from '../../limiter/limiter-client';
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
    blockedAt: z.string().openapi({ format: 'date-time' }),
    until: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('PrefixBlock');

const security = [{ bearerAuth: [] }];

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

const view = (block: { prefix: string; reason: 'low_conversion' | 'sequential_numbers' | 'operator'; note: string | null; blockedAt: number; until: number }) => ({
  prefix: block.prefix,
  reason: block.reason,
  note: block.note,
  blockedAt: new Date(block.blockedAt).toISOString(),
  until: new Date(block.until).toISOString(),
});

/** Operators list, pre-set and lift prefix blocks; the PrefixGuard objects enforce them. */
export const prefixBlockRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(list, async (c) => {
    const { results } = await c.env.DB.prepare(
      `SELECT prefix, reason, note, blocked_at, until FROM prefix_blocks
       WHERE lifted_at IS NULL AND until > ?1 ORDER BY blocked_at DESC LIMIT 500`,
    )
      .bind(Date.now())
      .all<{ prefix: string; reason: 'low_conversion' | 'sequential_numbers' | 'operator'; note: string | null; blocked_at: number; until: number }>();
    return c.json({ blocks: results.map((row) => view({ ...row, blockedAt: row.blocked_at })) }, 200);
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
