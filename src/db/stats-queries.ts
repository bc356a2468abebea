import { countryCallingCodeSql } from '../country-codes';
import { DEEP_WAITING_HORIZON_MS } from './stalled-work';
import { foldRequestGroups, requestGroupsSql, type StatsScope, statsConditions, statsStatement } from './stats-apps';

/**
 * Operator statistics, computed by D1 over indexes: every figure is an aggregate, so no audit row
 * is ever loaded into the Worker. Requests count by creation time, attempts by start time, status
 * checks by check time; the range is [since, until). With an app in the scope, every figure is of
 * that app's requests and what happened to them (stats-apps.ts).
 */

export const LATENCY_BUCKET_EDGES_MS = [100, 250, 500, 1000, 2000, 5000, 10_000] as const;
export const TOP_ERRORS = 10;
export const TOP_COUNTRIES = 20;

export interface StatsRange {
  since: number;
  until: number;
  bucketMs: number;
}

/** A queued or sending request not touched for this long is counted as stuck (the longest retry wait is a minute). */
export const STUCK_AFTER_MS = 120_000;

/** When the first request before `until` was created, or null when there is none: where "since the first request" starts. */
export async function firstRequestAt(db: D1Database, until: number, scope: StatsScope = {}): Promise<number | null> {
  const statement = scope.appId
    ? db.prepare('SELECT MIN(created_at) AS first FROM otp_requests WHERE app_id = ?2 AND created_at < ?1').bind(until, scope.appId)
    : db.prepare('SELECT MIN(created_at) AS first FROM otp_requests WHERE created_at < ?1').bind(until);
  const row = await statement.first<{ first: number | null }>();
  return row?.first ?? null;
}

/**
 * Work in flight now, whatever the range: requests `queued` or `sending`, and how many of them no
 * step has touched for STUCK_AFTER_MS (a lost queue message, a crashed send, a sweeper not run).
 * Waiting requests are read through the time index, over the day the sweeper's deep pass looks
 * back (as many rows as the default range's other figures read): a request the sweeper missed for
 * hours, because it did not run, still shows as stuck.
 */
export async function inFlightNow(db: D1Database, now: number, scope: StatsScope = {}) {
  const app = scope.appId ? ' AND app_id = ?3' : '';
  const { results } = await db
    .prepare(
      `SELECT status, COUNT(*) AS n, SUM(updated_at <= ?1) AS stuck, MIN(CASE WHEN updated_at <= ?1 THEN created_at END) AS oldest_stuck
       FROM otp_requests WHERE created_at > ?2 AND status IN ('queued', 'sending')${app} GROUP BY status`,
    )
    .bind(now - STUCK_AFTER_MS, now - DEEP_WAITING_HORIZON_MS, ...(scope.appId ? [scope.appId] : []))
    .all<Row>();
  const of = (status: string) => results.find((row) => row.status === status);
  const oldest = results.map((row) => row.oldest_stuck).filter((value): value is number => typeof value === 'number');
  return {
    queued: num(of('queued')?.n),
    sending: num(of('sending')?.n),
    stuck: results.reduce((sum, row) => sum + num(row.stuck), 0),
    stuckAfterSeconds: STUCK_AFTER_MS / 1000,
    oldestStuckAt: oldest.length ? new Date(Math.min(...oldest)).toISOString() : null,
  };
}

type Row = Record<string, number | string | null>;

const num = (value: unknown) => (typeof value === 'number' ? value : 0);
const orNull = (value: unknown) => (typeof value === 'number' ? value : null);
const ratio = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 10_000) / 10_000 : null);

/** Nearest-rank percentile p (in percent) of n sorted values is the value at rank ceil(p·n/100). */
const rank = (p: number) => `(${p} * n + 99) / 100`;

export async function computeStats(db: D1Database, range: StatsRange, scope: StatsScope = {}) {
  const conditions = statsConditions(scope);
  const requestsIn = conditions.requests;
  const attemptsIn = conditions.of('delivery_attempts', 'started_at');
  const checksIn = conditions.of('status_checks', 'checked_at');
  const latencyBin = `CASE ${LATENCY_BUCKET_EDGES_MS.map((edge, index) => `WHEN duration_ms < ${edge} THEN ${index}`).join(' ')} ELSE ${LATENCY_BUCKET_EDGES_MS.length} END`;
  const country = countryCallingCodeSql('phone_prefix');
  const bind = (sql: string) => statsStatement(db, sql, range, scope);

  const results = await db.batch<Row>([
    bind(requestGroupsSql(conditions)),
    bind(
      `SELECT COUNT(*) AS requests,
         SUM(sent_at IS NOT NULL) AS accepted,
         SUM(sent_at IS NOT NULL OR status IN ('failed', 'expired')) AS send_settled,
         SUM(delivery_status = 'delivered') AS delivered,
         SUM(delivery_status = 'failed') AS delivery_failed,
         SUM(delivery_status = 'pending') AS delivery_pending,
         SUM(delivery_status = 'unknown') AS delivery_unknown,
         SUM(status = 'verified') AS verified,
         SUM(attempts) AS attempts,
         SUM(attempts > 0) AS attempted,
         MAX(attempts) AS max_attempts
       FROM otp_requests WHERE ${requestsIn}`,
    ),
    bind(`SELECT MIN(attempts, 5) AS attempts, COUNT(*) AS n FROM otp_requests WHERE ${requestsIn} AND attempts > 0 GROUP BY 1 ORDER BY 1`),
    bind(`SELECT outcome, COUNT(*) AS n FROM delivery_attempts WHERE ${attemptsIn} GROUP BY outcome`),
    bind(
      `WITH ranked AS (
         SELECT duration_ms, ROW_NUMBER() OVER (ORDER BY duration_ms) AS rn, COUNT(*) OVER () AS n
         FROM delivery_attempts WHERE ${attemptsIn}
       )
       SELECT COUNT(*) AS count, AVG(duration_ms) AS mean, MAX(duration_ms) AS max,
         MAX(CASE WHEN rn = ${rank(50)} THEN duration_ms END) AS p50,
         MAX(CASE WHEN rn = ${rank(95)} THEN duration_ms END) AS p95,
         MAX(CASE WHEN rn = ${rank(99)} THEN duration_ms END) AS p99
       FROM ranked`,
    ),
    bind(`SELECT ${latencyBin} AS bin, COUNT(*) AS n FROM delivery_attempts WHERE ${attemptsIn} GROUP BY bin`),
    bind(
      `SELECT source, code, n FROM (
         SELECT 'attempt' AS source, error_code AS code, COUNT(*) AS n FROM delivery_attempts
         WHERE ${attemptsIn} AND error_code IS NOT NULL GROUP BY error_code
         UNION ALL
         SELECT 'status_check', error_code, COUNT(*) FROM status_checks
         WHERE ${checksIn} AND error_code IS NOT NULL GROUP BY error_code
       ) ORDER BY n DESC, code, source LIMIT ${TOP_ERRORS}`,
    ),
    bind(
      `SELECT ${country} AS country, COUNT(*) AS requests, SUM(sent_at IS NOT NULL) AS accepted,
         SUM(delivery_status = 'delivered') AS delivered, SUM(status = 'failed') AS failed,
         SUM(status = 'expired') AS expired, SUM(status = 'verified') AS verified
       FROM otp_requests WHERE ${requestsIn} GROUP BY country ORDER BY requests DESC, country LIMIT ${TOP_COUNTRIES}`,
    ),
    bind(
      `SELECT CAST((created_at - ?1) / ?3 AS INTEGER) AS bucket, COUNT(*) AS requests, SUM(delivery_status = 'delivered') AS delivered,
         SUM(status = 'verified') AS verified
       FROM otp_requests WHERE ${requestsIn} GROUP BY bucket`,
    ),
    bind(
      `SELECT CAST((started_at - ?1) / ?3 AS INTEGER) AS bucket, outcome, COUNT(*) AS n FROM delivery_attempts WHERE ${attemptsIn} GROUP BY bucket, outcome`,
    ),
    bind(
      `SELECT COALESCE(provider, 'unknown') AS provider, COALESCE(channel, 'sms') AS channel, outcome, COUNT(*) AS n, AVG(duration_ms) AS mean
       FROM delivery_attempts WHERE ${attemptsIn} GROUP BY 1, 2, 3`,
    ),
  ]);
  const [requestGroups, totals, attemptsDistribution, byOutcome, latency, bins, errors, countries, requestBuckets, attemptBuckets, providerRows] = results.map(
    (result) => result.results,
  ) as Row[][];

  const { byStatus: requestsByStatus, byOrigin: requestsByOrigin, byApp } = foldRequestGroups(requestGroups!, ratio);
  const t = totals![0] ?? {};
  const outcomes: Record<'sent' | 'retry' | 'failed' | 'expired', number> = { sent: 0, retry: 0, failed: 0, expired: 0 };
  for (const row of byOutcome!) outcomes[row.outcome as keyof typeof outcomes] = num(row.n);
  const l = latency![0] ?? {};
  const histogram = [...LATENCY_BUCKET_EDGES_MS, null].map((upToMs, index) => ({
    upToMs,
    count: num(bins!.find((row) => row.bin === index)?.n),
  }));

  const bucketCount = Math.ceil((range.until - range.since) / range.bucketMs);
  const series = Array.from({ length: bucketCount }, (_, index) => ({
    start: new Date(range.since + index * range.bucketMs).toISOString(),
    requests: 0,
    delivered: 0,
    verified: 0,
    attempts: { sent: 0, retry: 0, failed: 0, expired: 0 },
  }));
  for (const row of requestBuckets!) {
    const entry = series[num(row.bucket)];
    if (!entry) continue;
    entry.requests = num(row.requests);
    entry.delivered = num(row.delivered);
    entry.verified = num(row.verified);
  }
  for (const row of attemptBuckets!) {
    const entry = series[num(row.bucket)];
    if (entry) entry.attempts[row.outcome as keyof typeof outcomes] = num(row.n);
  }

  const accepted = num(t.accepted);
  const delivered = num(t.delivered);
  const deliveryFailed = num(t.delivery_failed);
  return {
    requests: { total: num(t.requests), byStatus: requestsByStatus, byOrigin: requestsByOrigin },
    delivery: {
      accepted,
      delivered,
      failed: deliveryFailed,
      pending: num(t.delivery_pending),
      unknown: num(t.delivery_unknown),
      verified: num(t.verified),
      acceptedRate: ratio(accepted, num(t.send_settled)),
      successRate: ratio(delivered, delivered + deliveryFailed),
      verifiedRate: ratio(num(t.verified), accepted),
    },
    attempts: {
      total: Object.values(outcomes).reduce((sum, n) => sum + n, 0),
      byOutcome: outcomes,
      perRequest: {
        average: ratio(num(t.attempts), num(t.attempted)),
        max: num(t.max_attempts),
        distribution: attemptsDistribution!.map((row) => ({ attempts: num(row.attempts), orMore: num(row.attempts) === 5, requests: num(row.n) })),
      },
    },
    latencyMs: {
      count: num(l.count),
      mean: l.mean === null || l.mean === undefined ? null : Math.round(num(l.mean)),
      p50: orNull(l.p50),
      p95: orNull(l.p95),
      p99: orNull(l.p99),
      max: orNull(l.max),
      histogram,
    },
    topErrors: errors!.map((row) => ({ source: String(row.source) as 'attempt' | 'status_check', code: String(row.code), count: num(row.n) })),
    byCountry: countries!.map((row) => ({
      country: String(row.country),
      requests: num(row.requests),
      accepted: num(row.accepted),
      delivered: num(row.delivered),
      failed: num(row.failed),
      expired: num(row.expired),
      verified: num(row.verified),
    })),
    byApp,
    series,
    byProvider: byProvider(providerRows!),
  };
}

/** Attempts per provider and channel, by outcome, with their mean duration. */
function byProvider(rows: Row[]) {
  const entries = new Map<string, { provider: string; channel: string; attempts: Record<'sent' | 'retry' | 'failed' | 'expired', number>; totalMs: number }>();
  for (const row of rows) {
    const key = `${row.provider}|${row.channel}`;
    const entry = entries.get(key) ?? {
      provider: String(row.provider),
      channel: String(row.channel),
      attempts: { sent: 0, retry: 0, failed: 0, expired: 0 },
      totalMs: 0,
    };
    entry.attempts[row.outcome as keyof typeof entry.attempts] = num(row.n);
    entry.totalMs += num(row.mean) * num(row.n);
    entries.set(key, entry);
  }
  return [...entries.values()].map(({ totalMs, ...entry }) => {
    const calls = Object.values(entry.attempts).reduce((sum, n) => sum + n, 0);
    return { ...entry, calls, meanLatencyMs: calls ? Math.round(totalMs / calls) : null };
  });
}
