import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { getJob, RESENDABLE_STATUSES, recentJobs, SKIP_REASONS } from '../../db/resend-jobs';
import { ApiError } from '../../errors';
import { RESEND_ID_PATTERN } from '../../ids';
import { resendFilter, startResend } from '../../resend/create-resend';
import { AppIdParam, TimeParam } from '../admin-schemas';
import { resendJobView } from '../admin-views';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { ADMIN_BEARER, tag } from '../openapi-document';
import { ADMIN_ROUTE, errorResponses, JSON_BODY, responseHeaders } from '../openapi-responses';
import { PhoneNumberSchema, RequestIdSchema } from '../schemas';

const MAX_LISTED = 1000;
const ResendableStatus = z.enum(RESENDABLE_STATUSES);
const BodyTime = z.union([z.number().int().min(0).openapi({ description: 'epoch milliseconds' }), TimeParam]);

const ResendRequest = z
  .object({
    filter: z
      .object({
        status: z.union([ResendableStatus, z.array(ResendableStatus).min(1).max(RESENDABLE_STATUSES.length)]).openapi({
          description: 'Which requests to resend: failed, expired, or sent (accepted but never reported delivered)',
          example: ['failed', 'expired'],
        }),
        since: BodyTime.openapi({ description: 'Requests created at or after (ISO 8601 or epoch ms)', example: '2026-11-26T09:00:00Z' }),
        until: BodyTime.optional().openapi({ description: 'Requests created before; default now', example: '2026-11-26T10:00:00Z' }),
        appId: AppIdParam.optional().openapi({ description: 'Only this app’s requests; without it, every app’s (each new request stays in its own app)' }),
        phoneNumbers: z.array(PhoneNumberSchema).min(1).max(MAX_LISTED).optional(),
        requestIds: z.array(RequestIdSchema).min(1).max(MAX_LISTED).optional(),
      })
      .strict(),
    dryRun: z.boolean().default(false).openapi({ description: 'Only count the matches; change nothing' }),
  })
  .strict()
  .openapi('ResendRequest');

const Skipped = z.object({
  total: z.number().int(),
  byReason: z.object(Object.fromEntries(SKIP_REASONS.map((reason) => [reason, z.number().int()])) as Record<(typeof SKIP_REASONS)[number], z.ZodNumber>),
});

const ResendJob = z
  .object({
    resendId: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    finishedAt: z.string().nullable(),
    done: z.boolean(),
    filter: z.object({
      status: z.array(ResendableStatus),
      since: z.string(),
      until: z.string(),
      appId: z.string().optional(),
      phoneNumbers: z.array(z.string()).optional(),
      requestIds: z.array(z.string()).optional(),
    }),
    matched: z.number().int().openapi({ description: 'Requests the filter matched when the resend was created' }),
    pagesDone: z.number().int(),
    enqueued: z.number().int().openapi({ description: 'New requests created and queued: one per phone and app at most' }),
    skipped: Skipped.openapi({
      description:
        'Matches that got no new code: same_phone (an older match of the phone in the same app, or one this resend already covered there), verified_since, newer_request (the phone has a newer live code in that app), prefix_blocked, daily_cap (the phone’s requests in every app)',
    }),
  })
  .openapi('ResendJob');

const createResend = createRoute({
  method: 'post',
  path: '/v1/admin/resends',
  operationId: 'createResend',
  tags: tag('Admin: resends'),
  summary: 'Bulk resend through the queue, or count what it would match (operators)',
  description:
    'Each matching phone gets one new request per app it has matches in (new id, new code, `origin: operator_resend`, in the app of the request it replaces and linked to it), unless it verified since or has a newer live code in that app, is prefix-blocked or reached its daily cap. `filter.appId` keeps the resend to one app. Short resend windows do not apply. Sends are spread at RESEND_SENDS_PER_SECOND.',
  security: ADMIN_BEARER,
  request: { body: { required: true, content: { 'application/json': { schema: ResendRequest } } } },
  responses: {
    200: {
      description: 'Dry run: how many requests match, and how many distinct phones (once per app: the most new requests the resend can make); nothing changed',
      headers: responseHeaders(),
      content: { 'application/json': { schema: z.object({ dryRun: z.literal(true), matched: z.number().int(), phones: z.number().int() }) } },
    },
    202: {
      description: 'The resend is recorded and its fan-out queued; follow it at `statusUrl` (also `Location`)',
      headers: responseHeaders('Location'),
      content: {
        'application/json': {
          schema: z.object({ resendId: z.string(), matched: z.number().int(), phones: z.number().int(), statusUrl: z.string() }),
        },
      },
    },
    ...errorResponses(ADMIN_ROUTE, JSON_BODY),
  },
});

const getResend = createRoute({
  method: 'get',
  path: '/v1/admin/resends/{resendId}',
  operationId: 'getResend',
  tags: tag('Admin: resends'),
  summary: 'Progress of a bulk resend (operators)',
  security: ADMIN_BEARER,
  request: {
    params: z.object({
      resendId: z
        .string()
        .regex(RESEND_ID_PATTERN, { error: 'is not a valid resend id' })
        .openapi({ param: { name: 'resendId', in: 'path' } }),
    }),
  },
  responses: {
    200: {
      description: 'Matched, enqueued, skipped with reasons, done',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: ResendJob } },
    },
    ...errorResponses(ADMIN_ROUTE, ['not_found']),
  },
});

const listResends = createRoute({
  method: 'get',
  path: '/v1/admin/resends',
  operationId: 'listResends',
  tags: tag('Admin: resends'),
  summary: 'The most recent bulk resends (operators)',
  security: ADMIN_BEARER,
  request: { query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }) },
  responses: {
    200: {
      description: 'Newest first',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ resends: z.array(ResendJob) }) } },
    },
    ...errorResponses(ADMIN_ROUTE),
  },
});

export const adminResendRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createResend, async (c) => {
    const { filter: input, dryRun } = c.req.valid('json');
    const now = Date.now();
    const started = await startResend(c.env, resendFilter(input, now), dryRun, now);
    if (started.dryRun) return c.json({ dryRun: true as const, matched: started.matched, phones: started.phones }, 200);
    const { resendId, matched, phones } = started;
    const statusUrl = new URL(`/v1/admin/resends/${resendId}`, c.req.url).toString();
    c.header('Location', statusUrl);
    return c.json({ resendId, matched, phones, statusUrl }, 202);
  })
  .openapi(getResend, async (c) => {
    const job = await getJob(c.env.DB, c.req.valid('param').resendId);
    if (!job) throw new ApiError('not_found', 'No such resend');
    c.header('Cache-Control', 'no-store');
    return c.json(resendJobView(job), 200);
  })
  .openapi(listResends, async (c) => {
    const jobs = await recentJobs(c.env.DB, c.req.valid('query').limit);
    c.header('Cache-Control', 'no-store');
    return c.json({ resends: jobs.map(resendJobView) }, 200);
  });
