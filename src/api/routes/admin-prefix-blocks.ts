import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { countryCallingCode } from '../../country-codes';
import { BLOCK_REASONS } from '../../db/prefix-blocks';
import { ApiError } from '../../errors';
import { type PrefixBlock, prefixBlocksFor } from '../../limiter/prefix-blocks';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { ADMIN_BEARER, tag } from '../openapi-document';
import { ADMIN_ROUTE, errorResponses, JSON_BODY, responseHeaders } from '../openapi-responses';

const PrefixSchema = z
  .string()
  .regex(/^\+[1-9]\d{0,14}$/, { error: 'must be + and the leading digits of numbers, e.g. +91987' })
  .openapi({ example: '+88216' });

/** `+4` or `+88` are parts of country calling codes, not whole ones (padding finds the code they start). */
const holdsCountryCode = (prefix: string) => prefix.length >= countryCallingCode(prefix.padEnd(4, '0')).length;

const Block = z
  .object({
    prefix: z.string(),
    reason: z.enum(BLOCK_REASONS),
    note: z.string().nullable(),
    since: z.string().openapi({ format: 'date-time' }),
    until: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('PrefixBlock');

const security = ADMIN_BEARER;
const tags = tag('Admin: abuse');

const list = createRoute({
  method: 'get',
  path: '/v1/admin/prefix-blocks',
  operationId: 'listPrefixBlocks',
  tags,
  summary: 'Destination prefixes currently blocked (automatically or by an operator)',
  security,
  responses: {
    200: {
      description: 'Active blocks, newest first',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ blocks: z.array(Block) }) } },
    },
    ...errorResponses(ADMIN_ROUTE),
  },
});

const create = createRoute({
  method: 'post',
  path: '/v1/admin/prefix-blocks',
  operationId: 'createPrefixBlock',
  tags,
  summary: 'Block sends to a destination prefix ahead of time',
  description:
    'Blocks every number that starts with the prefix: a country calling code (+44), a range (+4479, +4478123) or one number. ' +
    'The prefix must hold at least a whole country calling code; a shorter one would span several countries.',
  security,
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z
            .object({
              prefix: PrefixSchema.refine(holdsCountryCode, {
                error: 'must hold at least a whole country calling code (e.g. +44, +1, +880): a shorter prefix would span several countries',
              }),
              durationSeconds: z
                .number()
                .int()
                .min(60)
                .max(365 * 86400)
                .default(43200),
              note: z.string().max(200).optional(),
            })
            .strict(),
        },
      },
    },
  },
  responses: {
    201: { description: 'Blocked', headers: responseHeaders(), content: { 'application/json': { schema: Block } } },
    ...errorResponses(ADMIN_ROUTE, JSON_BODY),
  },
});

const lift = createRoute({
  method: 'delete',
  path: '/v1/admin/prefix-blocks/{prefix}',
  operationId: 'liftPrefixBlock',
  tags,
  summary: 'Lift a prefix block; its pumping signals start counting afresh',
  security,
  request: { params: z.object({ prefix: PrefixSchema }) },
  responses: {
    200: { description: 'Lifted', headers: responseHeaders(), content: { 'application/json': { schema: z.object({ lifted: Block }) } } },
    ...errorResponses(ADMIN_ROUTE, ['not_found']),
  },
});

const view = (block: PrefixBlock) => ({
  prefix: block.prefix,
  reason: block.reason,
  note: block.note,
  since: new Date(block.blockedAt).toISOString(),
  until: new Date(block.until).toISOString(),
});

/** Operators list, pre-set and lift prefix blocks (see limiter/prefix-blocks.ts for where each kind is enforced). */
export const adminPrefixBlockRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(list, async (c) => {
    const blocks = await prefixBlocksFor(c.env).listActive();
    c.header('Cache-Control', 'no-store');
    return c.json({ blocks: blocks.map(view) }, 200);
  })
  .openapi(create, async (c) => {
    const { prefix, durationSeconds, note } = c.req.valid('json');
    const block = await prefixBlocksFor(c.env).block({ prefix, seconds: durationSeconds, note });
    return c.json(view(block), 201);
  })
  .openapi(lift, async (c) => {
    const { prefix } = c.req.valid('param');
    const lifted = await prefixBlocksFor(c.env).lift(prefix);
    if (!lifted) throw new ApiError('not_found', `No active block for ${prefix}`);
    return c.json({ lifted: view(lifted) }, 200);
  });
