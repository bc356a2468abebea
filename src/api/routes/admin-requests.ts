import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { listRequests, requestHistory } from '../../db/audit-queries';
import { ATTEMPT_OUTCOMES } from '../../db/delivery-attempts';
import { DELIVERY_STATUSES, REQUEST_ORIGINS, RequestStatus } from '../../db/requests';
import { CHECK_RESULTS } from '../../db/status-checks';
import { ApiError } from '../../errors';
import { RESEND_ID_PATTERN } from '../../ids';
import { AppIdParam, ErrorCodeParam, listParam, PageParams, PageSchema, PhoneQueryParam, TimeParam } from '../admin-schemas';
import { adminRequestView, attemptView, statusCheckView, timeline } from '../admin-views';
import type { AppEnv } from '../app-env';
import { type CsvColumn, viewColumns } from '../csv';
import { validationHook } from '../error-handler';
import { ADMIN_BEARER, tag } from '../openapi-document';
import { ADMIN_ROUTE, errorResponses, responseHeaders } from '../openapi-responses';
import { csvResponse, readPaged } from '../paged-listing';
import { RequestIdSchema, RequestStatusSchema } from '../schemas';

const AdminRequest = z
  .object({
    requestId: z.string(),
    appId: z.string().nullable().openapi({ description: 'The app whose key asked; null for requests made before apps existed' }),
    testNumber: z.boolean().openapi({ description: 'Sent to one of the app’s test numbers: a fixed code, no provider call' }),
    status: RequestStatusSchema,
    effectiveStatus: RequestStatusSchema.openapi({ description: 'As apps see it: an active request past its expiry reads expired' }),
    origin: z.enum(REQUEST_ORIGINS),
    phoneNumber: z.string(),
    phonePrefix: z.string(),
    attempts: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
    expiresAt: z.string(),
    enqueuedAt: z.string().nullable(),
    sentAt: z.string().nullable(),
    providerMessageId: z.string().nullable(),
    channel: z.enum(['sms', 'whatsapp', 'auto']),
    sentProvider: z.string().nullable().openapi({ description: 'The provider the current message went out through' }),
    sentChannel: z.enum(['sms', 'whatsapp']).nullable(),
    smsFallbackAt: z.string().nullable().openapi({ description: 'When an `auto` request gave up on WhatsApp and went on by SMS' }),
    deliveryStatus: z.enum(DELIVERY_STATUSES).nullable(),
    deliveredAt: z.string().nullable(),
    deliveryChecks: z.number().int(),
    verifiedAt: z.string().nullable(),
    verifyAttempts: z.number().int(),
    lastError: z.object({ code: z.string(), message: z.string() }).nullable(),
    replacesRequestId: z.string().nullable(),
    resendId: z.string().nullable(),
  })
  .openapi('AdminRequest');

export const AdminAttempt = z
  .object({
    attemptId: z.number().int(),
    requestId: z.string(),
    appId: z.string().nullable(),
    phoneNumber: z.string(),
    origin: z.enum(REQUEST_ORIGINS),
    provider: z.string().nullable().openapi({
      description:
        'The provider called (startmessaging, twilio, sandbox, sandbox-backup), or test_number, which calls none; null for attempts recorded before providers were named',
    }),
    attemptNumber: z.number().int(),
    startedAt: z.string(),
    finishedAt: z.string(),
    durationMs: z.number().int(),
    outcome: z.enum(ATTEMPT_OUTCOMES),
    channel: z.enum(['sms', 'whatsapp']),
    ambiguous: z.boolean().openapi({ description: 'The message may have gone out although the call failed' }),
    httpStatus: z.number().int().nullable(),
    providerMessageId: z.string().nullable(),
    errorCode: z.string().nullable(),
    errorMessage: z.string().nullable(),
    retryDelaySeconds: z.number().int().nullable(),
  })
  .openapi('AdminAttempt');

const StatusCheck = z
  .object({
    checkNumber: z.number().int(),
    checkedAt: z.string(),
    durationMs: z.number().int(),
    httpStatus: z.number().int().nullable(),
    providerStatus: z.string().nullable(),
    outcome: z.enum(CHECK_RESULTS),
    errorCode: z.string().nullable(),
    errorMessage: z.string().nullable(),
    nextCheckSeconds: z.number().int().nullable(),
  })
  .openapi('AdminStatusCheck');

const csvContent = { 'text/csv': { schema: z.string() } };

const listRequestsRoute = createRoute({
  method: 'get',
  path: '/v1/admin/requests',
  operationId: 'listRequests',
  tags: tag('Admin: requests'),
  summary: 'Requests, newest first, filtered (operators)',
  description:
    'Keyset pagination: pass `nextCursor` as `cursor`. Pages stay stable while new requests arrive. `format=csv` answers the same query as CSV (next page cursor in `X-Next-Cursor`).',
  security: ADMIN_BEARER,
  request: {
    query: z.object({
      appId: AppIdParam.optional(),
      phoneNumber: PhoneQueryParam.optional(),
      status: listParam(RequestStatus.options as [RequestStatus, ...RequestStatus[]], 'Stored status').optional(),
      origin: z.enum(REQUEST_ORIGINS).optional(),
      errorCode: ErrorCodeParam.optional().openapi({ description: 'The request’s last error code' }),
      resendId: z.string().regex(RESEND_ID_PATTERN, { error: 'is not a valid resend id' }).optional(),
      since: TimeParam.optional().openapi({ description: 'Created at or after' }),
      until: TimeParam.optional().openapi({ description: 'Created before' }),
      ...PageParams,
    }),
  },
  responses: {
    200: {
      description: 'One page',
      headers: responseHeaders('Cache-Control', 'X-Next-Cursor', 'Content-Disposition'),
      content: { 'application/json': { schema: z.object({ requests: z.array(AdminRequest), ...PageSchema }) }, ...csvContent },
    },
    ...errorResponses(ADMIN_ROUTE),
  },
});

const getRequestRoute = createRoute({
  method: 'get',
  path: '/v1/admin/requests/{requestId}',
  operationId: 'getRequest',
  tags: tag('Admin: requests'),
  summary: 'One request with its full timeline (operators)',
  security: ADMIN_BEARER,
  request: { params: z.object({ requestId: RequestIdSchema }) },
  responses: {
    200: {
      description: 'The request, every provider call, every status check, what replaced it, and all of it as one timeline',
      headers: responseHeaders('Cache-Control'),
      content: {
        'application/json': {
          schema: z.object({
            request: AdminRequest,
            attempts: z.array(AdminAttempt),
            statusChecks: z.array(StatusCheck),
            replacedBy: z.array(z.object({ requestId: z.string(), status: z.string(), origin: z.string(), createdAt: z.string() })),
            timeline: z.array(z.object({ at: z.string(), event: z.string(), detail: z.string() })),
          }),
        },
      },
    },
    ...errorResponses(ADMIN_ROUTE, ['not_found']),
  },
});

type RequestView = ReturnType<typeof adminRequestView>;
const REQUEST_CSV_COLUMNS: CsvColumn<RequestView>[] = [
  ...viewColumns<RequestView>('requestId', 'createdAt', 'appId', 'testNumber', 'status', 'effectiveStatus', 'origin', 'phoneNumber', 'attempts', 'sentAt'),
  ...viewColumns<RequestView>('deliveryStatus', 'deliveredAt', 'verifiedAt'),
  ['lastErrorCode', (r) => r.lastError?.code],
  ['lastErrorMessage', (r) => r.lastError?.message],
  ...viewColumns<RequestView>('replacesRequestId', 'resendId'),
];

export const adminRequestRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(listRequestsRoute, async (c) => {
    const { appId, phoneNumber, status, origin, errorCode, resendId, since, until, ...page } = c.req.valid('query');
    const filter = { appId, phoneNumber, statuses: status, origin, errorCode, resendId, since, until };
    const { rows, nextCursor } = await readPaged(
      'requests',
      page,
      (after, count) => listRequests(c.env.DB, filter, { after, limit: count }),
      (row) => ({ at: row.created_at, id: row.id }),
    );
    const now = Date.now();
    const requests = rows.map((row) => adminRequestView(row, now));
    if (page.format === 'csv') return csvResponse(c, 'requests', REQUEST_CSV_COLUMNS, requests, nextCursor);
    c.header('Cache-Control', 'no-store');
    return c.json({ requests, nextCursor }, 200);
  })
  .openapi(getRequestRoute, async (c) => {
    const history = await requestHistory(c.env.DB, c.req.valid('param').requestId);
    if (!history) throw new ApiError('not_found', 'No such request');
    c.header('Cache-Control', 'no-store');
    return c.json(
      {
        request: adminRequestView(history.request, Date.now()),
        attempts: history.attempts.map(attemptView),
        statusChecks: history.statusChecks.map(statusCheckView),
        replacedBy: history.replacedBy.map((next) => ({
          requestId: next.id,
          status: next.status,
          origin: next.origin,
          createdAt: new Date(next.created_at).toISOString(),
        })),
        timeline: timeline(history.request, history.attempts, history.statusChecks, history.replacedBy),
      },
      200,
    );
  });
