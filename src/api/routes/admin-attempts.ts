import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { listAttempts } from '../../db/audit-queries';
import { ATTEMPT_OUTCOMES } from '../../db/delivery-attempts';
import { AppIdParam, ErrorCodeParam, listParam, PageParams, PageSchema, PhoneQueryParam, TimeParam } from '../admin-schemas';
import { attemptView } from '../admin-views';
import type { AppEnv } from '../app-env';
import { viewColumns } from '../csv';
import { validationHook } from '../error-handler';
import { ADMIN_BEARER, tag } from '../openapi-document';
import { ADMIN_ROUTE, errorResponses, responseHeaders } from '../openapi-responses';
import { csvResponse, readPaged } from '../paged-listing';
import { RequestIdSchema } from '../schemas';
import { AdminAttempt } from './admin-requests';

const listAttemptsRoute = createRoute({
  method: 'get',
  path: '/v1/admin/attempts',
  operationId: 'listAttempts',
  tags: tag('Admin: requests'),
  summary: 'Provider calls, newest first, filtered (operators)',
  description: 'Every delivery attempt from the audit table. Keyset pagination: pass `nextCursor` as `cursor`. `format=csv` answers the same query as CSV.',
  security: ADMIN_BEARER,
  request: {
    query: z.object({
      appId: AppIdParam.optional().openapi({ description: 'Only attempts of this app’s requests (an exact app id)' }),
      phoneNumber: PhoneQueryParam.optional(),
      requestId: RequestIdSchema.optional().openapi({ param: { name: 'requestId', in: 'query' } }),
      outcome: listParam(ATTEMPT_OUTCOMES, 'Attempt outcome').optional(),
      errorCode: ErrorCodeParam.optional(),
      since: TimeParam.optional().openapi({ description: 'Started at or after' }),
      until: TimeParam.optional().openapi({ description: 'Started before' }),
      ...PageParams,
    }),
  },
  responses: {
    200: {
      description: 'One page',
      headers: responseHeaders('Cache-Control', 'X-Next-Cursor', 'Content-Disposition'),
      content: {
        'application/json': { schema: z.object({ attempts: z.array(AdminAttempt), ...PageSchema }) },
        'text/csv': { schema: z.string() },
      },
    },
    ...errorResponses(ADMIN_ROUTE),
  },
});

const ATTEMPT_CSV_COLUMNS = viewColumns<ReturnType<typeof attemptView>>(
  'attemptId',
  'startedAt',
  'requestId',
  'appId',
  'phoneNumber',
  'origin',
  'provider',
  'attemptNumber',
  'outcome',
  'provider',
  'channel',
  'ambiguous',
  'httpStatus',
  'durationMs',
  'errorCode',
  'errorMessage',
  'retryDelaySeconds',
  'providerMessageId',
);

export const adminAttemptRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(listAttemptsRoute, async (c) => {
  const { appId, phoneNumber, requestId, outcome, errorCode, since, until, ...page } = c.req.valid('query');
  const filter = { appId, phoneNumber, requestId, outcomes: outcome, errorCode, since, until };
  const { rows, nextCursor } = await readPaged(
    'attempts',
    page,
    (after, count) => listAttempts(c.env.DB, filter, { after, limit: count }),
    (row) => ({ at: row.started_at, id: row.id }),
  );
  const attempts = rows.map(attemptView);
  if (page.format === 'csv') return csvResponse(c, 'attempts', ATTEMPT_CSV_COLUMNS, attempts, nextCursor);
  c.header('Cache-Control', 'no-store');
  return c.json({ attempts, nextCursor }, 200);
});
