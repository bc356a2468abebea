import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { StatsScope } from '../../db/stats-apps';
import { computeStats, firstRequestAt, inFlightNow, LATENCY_BUCKET_EDGES_MS } from '../../db/stats-queries';
import { ApiError } from '../../errors';
import { AppIdParam, TimeParam } from '../admin-schemas';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { ADMIN_BEARER, tag } from '../openapi-document';
import { ADMIN_ROUTE, errorResponses, responseHeaders } from '../openapi-responses';

const BUCKETS = { '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '6h': 21_600_000, '1d': 86_400_000 } as const;
type Bucket = keyof typeof BUCKETS;
const BUCKET_NAMES = Object.keys(BUCKETS) as [Bucket, ...Bucket[]];
/** Series longer than this are refused: a chart cannot show them and D1 should not compute them. */
export const MAX_BUCKETS = 1000;
/** Without `bucket`, the finest one that keeps the series this short. */
const AUTO_BUCKETS = 120;
const MAX_RANGE_MS = 400 * 86_400_000;
/** `since=first` spans at least this much, so a fresh deployment's first minutes still get a few bars. */
const MIN_FIRST_SPAN_MS = 15 * 60_000;

const Counts = z.record(z.string(), z.number().int());
const Rate = z.number().nullable().openapi({ description: 'A fraction from 0 to 1; null when there is nothing to divide by' });
const ByOutcome = z.object({ sent: z.number().int(), retry: z.number().int(), failed: z.number().int(), expired: z.number().int() });

const Stats = z
  .object({
    since: z.string(),
    until: z.string(),
    bucket: z.enum(BUCKET_NAMES),
    appId: z.string().nullable().openapi({ description: 'The app every figure is of; null: every app' }),
    requests: z.object({ total: z.number().int(), byStatus: Counts, byOrigin: Counts }),
    delivery: z.object({
      accepted: z.number().int().openapi({ description: 'Requests the provider accepted' }),
      delivered: z.number().int().openapi({ description: 'Requests the provider reports delivered' }),
      failed: z.number().int().openapi({ description: 'Requests the provider reports not delivered' }),
      pending: z.number().int(),
      unknown: z.number().int().openapi({ description: 'No final report after every status check' }),
      verified: z.number().int(),
      acceptedRate: Rate.openapi({ description: 'accepted ÷ requests whose sending ended (accepted, failed or expired)' }),
      successRate: Rate.openapi({ description: 'Delivery success rate: delivered ÷ (delivered + failed) reports' }),
      verifiedRate: Rate.openapi({ description: 'verified ÷ accepted: the conversion that pumping drags down' }),
    }),
    attempts: z.object({
      total: z.number().int(),
      byOutcome: ByOutcome,
      perRequest: z.object({
        average: z.number().nullable(),
        max: z.number().int(),
        distribution: z.array(z.object({ attempts: z.number().int(), orMore: z.boolean(), requests: z.number().int() })),
      }),
    }),
    latencyMs: z.object({
      count: z.number().int(),
      mean: z.number().nullable(),
      p50: z.number().nullable(),
      p95: z.number().nullable(),
      p99: z.number().nullable(),
      max: z.number().nullable(),
      histogram: z.array(z.object({ upToMs: z.number().nullable(), count: z.number().int() })).openapi({
        description: `Provider call durations in bins ending at ${LATENCY_BUCKET_EDGES_MS.join(', ')} ms and above`,
      }),
    }),
    topErrors: z.array(z.object({ source: z.enum(['attempt', 'status_check']), code: z.string(), count: z.number().int() })),
    byCountry: z.array(
      z.object({
        country: z.string().openapi({ example: '+91' }),
        requests: z.number().int(),
        accepted: z.number().int(),
        delivered: z.number().int(),
        failed: z.number().int(),
        expired: z.number().int(),
        verified: z.number().int(),
      }),
    ),
    byApp: z
      .array(
        z.object({
          appId: z.string().nullable().openapi({ description: 'null: requests made before apps existed' }),
          name: z.string().nullable().openapi({ description: 'The app’s name; null when it has none on record' }),
          requests: z.number().int(),
          sent: z.number().int().openapi({ description: 'Requests the provider accepted' }),
          verified: z.number().int(),
          failed: z.number().int(),
          conversion: Rate.openapi({ description: 'verified ÷ sent' }),
        }),
      )
      .openapi({ description: 'Requests by app, most first; with appId, that app only' }),
    series: z.array(z.object({ start: z.string(), requests: z.number().int(), delivered: z.number().int(), verified: z.number().int(), attempts: ByOutcome })),
    byProvider: z
      .array(
        z.object({
          provider: z.string().openapi({ example: 'startmessaging' }),
          channel: z.string().openapi({ example: 'sms' }),
          calls: z.number().int(),
          attempts: ByOutcome,
          meanLatencyMs: z.number().nullable(),
        }),
      )
      .openapi({ description: 'Provider calls in the range, per provider and channel' }),
    inFlight: z
      .object({
        queued: z.number().int(),
        sending: z.number().int(),
        stuck: z.number().int().openapi({ description: 'Queued or sending, and untouched for stuckAfterSeconds' }),
        stuckAfterSeconds: z.number().int(),
        oldestStuckAt: z.string().nullable().openapi({ description: 'Creation time of the oldest stuck request' }),
      })
      .openapi({ description: 'Requests queued or sending now, whatever the range' }),
  })
  .openapi('AdminStats');

const statsRoute = createRoute({
  method: 'get',
  path: '/v1/admin/stats',
  operationId: 'getStats',
  tags: tag('Admin: requests'),
  summary: 'Delivery statistics for a time range (operators)',
  description:
    'Counts by status and outcome, delivery success rate, attempts per request, provider latency percentiles (nearest rank), top error codes, by country calling code, by app and per time bucket, and the requests in flight now (queued or sending; stuck when untouched for 2 minutes). `appId` keeps every figure, in flight included, to one app. Defaults: the last 24 hours, a bucket giving at most 120 points. `since=first` starts at the first request before `until` (at least 15 minutes back).',
  security: ADMIN_BEARER,
  request: {
    query: z.object({
      since: z
        .union([z.literal('first'), TimeParam])
        .optional()
        .openapi({ description: 'ISO 8601 date-time, epoch milliseconds, or `first`: the first request before `until`' }),
      until: TimeParam.optional(),
      bucket: z.enum(BUCKET_NAMES).optional(),
      appId: AppIdParam.optional().openapi({ description: 'Every figure of this app’s requests only (an exact app id)' }),
    }),
  },
  responses: {
    200: { description: 'Statistics', headers: responseHeaders('Cache-Control'), content: { 'application/json': { schema: Stats } } },
    ...errorResponses(ADMIN_ROUTE),
  },
});

export const adminStatsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(statsRoute, async (c) => {
  const query = c.req.valid('query');
  const now = Date.now();
  const until = query.until ?? now;
  const scope = { appId: query.appId };
  const since = query.since === 'first' ? await sinceFirstRequest(c.env.DB, until, scope) : (query.since ?? until - 86_400_000);
  if (since >= until) throw new ApiError('invalid_request', 'since: must be before until');
  if (until - since > MAX_RANGE_MS) throw new ApiError('invalid_request', 'until: the range may span at most 400 days');
  const bucket = query.bucket ?? BUCKET_NAMES.find((name) => (until - since) / BUCKETS[name] <= AUTO_BUCKETS) ?? '1d';
  if ((until - since) / BUCKETS[bucket] > MAX_BUCKETS) {
    throw new ApiError('invalid_request', `bucket: ${bucket} would make more than ${MAX_BUCKETS} points; choose a longer bucket`);
  }
  const [stats, inFlight] = await Promise.all([computeStats(c.env.DB, { since, until, bucketMs: BUCKETS[bucket] }, scope), inFlightNow(c.env.DB, now, scope)]);
  c.header('Cache-Control', 'no-store');
  const range = { since: new Date(since).toISOString(), until: new Date(until).toISOString(), bucket, appId: query.appId ?? null };
  return c.json({ ...range, ...stats, inFlight }, 200);
});

/** The first request's minute, at least MIN_FIRST_SPAN_MS and at most MAX_RANGE_MS before `until`. */
async function sinceFirstRequest(db: D1Database, until: number, scope: StatsScope): Promise<number> {
  const first = await firstRequestAt(db, until, scope);
  const start = first === null ? until : Math.floor(first / 60_000) * 60_000;
  return Math.max(until - MAX_RANGE_MS, Math.min(start, until - MIN_FIRST_SPAN_MS));
}
