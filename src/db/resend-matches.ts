import { z } from 'zod';
import type { ResendFilter } from './resend-jobs';

/** A day, for the per-phone daily cap. */
export const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A request's app as the unique index otp_requests_resend_app_phone holds it (migration 0010):
 * requests from before apps (app_id NULL) share the app ''. Written exactly as in the index, so
 * SQLite reads that index for it.
 */
const APP_KEY = (alias: string) => `COALESCE(${alias}.app_id, '')`;

/**
 * The WHERE clause selecting a resend's matches, for a table alias. Lists travel as one JSON
 * parameter each (`json_each`), so a filter of a thousand phone numbers stays within D1's
 * parameter limit. Parameters are numbered once, so the clause can be used for two aliases.
 */
function matchClause(filter: ResendFilter, excludeResendId: string | null, params: unknown[]): (alias: string) => string {
  const param = (value: unknown) => {
    params.push(value);
    return `?${params.length}`;
  };
  const since = param(filter.since);
  const until = param(filter.until);
  const statuses = param(JSON.stringify(filter.statuses));
  const phones = filter.phoneNumbers ? param(JSON.stringify(filter.phoneNumbers)) : null;
  const ids = filter.requestIds ? param(JSON.stringify(filter.requestIds)) : null;
  const app = filter.appId ? param(filter.appId) : null;
  const resend = excludeResendId ? param(excludeResendId) : null;
  return (a) =>
    [
      `${a}.created_at >= ${since}`,
      `${a}.created_at < ${until}`,
      `${a}.status IN (SELECT value FROM json_each(${statuses}))`,
      // Test numbers never reach a provider, so there is nothing to resend to them.
      `${a}.test_number = 0`,
      ...(app ? [`${a}.app_id = ${app}`] : []),
      ...(phones ? [`${a}.phone_number IN (SELECT value FROM json_each(${phones}))`] : []),
      ...(ids ? [`${a}.id IN (SELECT value FROM json_each(${ids}))`] : []),
      // A resend never picks up the requests it created itself.
      ...(resend ? [`(${a}.resend_id IS NULL OR ${a}.resend_id <> ${resend})`] : []),
    ].join(' AND ');
}

export async function countMatches(db: D1Database, filter: ResendFilter): Promise<{ matched: number; phones: number }> {
  const params: unknown[] = [];
  const where = matchClause(filter, null, params)('r');
  const row = await db
    // A phone is counted once per app: each (app, phone) can get one new request.
    .prepare(`SELECT COUNT(*) AS matched, COUNT(DISTINCT ${APP_KEY('r')} || ' ' || r.phone_number) AS phones FROM otp_requests r WHERE ${where}`)
    .bind(...params)
    .first<{ matched: number; phones: number }>();
  return { matched: row?.matched ?? 0, phones: row?.phones ?? 0 };
}

const MatchRow = z.object({
  id: z.string(),
  phone_number: z.string(),
  phone_prefix: z.string(),
  created_at: z.number(),
  app_id: z.string().nullable(),
  code_length: z.number().nullable(),
  verified_since: z.number(),
  newer_active: z.number(),
  requests_last_day: z.number(),
  newest_match: z.number(),
  already_resent: z.number(),
});
export type MatchRow = z.infer<typeof MatchRow>;

/**
 * The next page of a resend's matches after `cursor`, oldest first, with what decides whether
 * each phone gets a new code. A phone is decided once per app (each app's login waits for a code
 * of its own), at its newest match in that app, against that match: a verification since in that
 * app, a newer live request in that app, and whether this resend already gave it a new request in
 * that app; and how many requests the phone had in the last day in every app, since the daily cap
 * protects the phone, whichever apps ask.
 */
export async function pageOfMatches(
  db: D1Database,
  page: { resendId: string; filter: ResendFilter; cursor: { createdAt: number; id: string } | null; limit: number; now: number },
): Promise<MatchRow[]> {
  const params: unknown[] = [];
  const where = matchClause(page.filter, page.resendId, params);
  params.push(page.cursor?.createdAt ?? -1, page.cursor?.id ?? '', page.now - DAY_MS, page.resendId, page.limit);
  const n = params.length;
  const { results } = await db
    .prepare(
      `SELECT r.id, r.phone_number, r.phone_prefix, r.created_at, r.app_id, r.code_length,
         EXISTS (SELECT 1 FROM otp_requests v
                 WHERE v.phone_number = r.phone_number AND v.verified_at IS NOT NULL AND v.verified_at >= r.created_at
                   AND v.app_id IS r.app_id) AS verified_since,
         EXISTS (SELECT 1 FROM otp_requests w
                 WHERE w.phone_number = r.phone_number AND w.created_at > r.created_at AND w.app_id IS r.app_id
                   AND w.status IN ('queued', 'sending', 'sent', 'delivered')) AS newer_active,
         (SELECT COUNT(*) FROM otp_requests d WHERE d.phone_number = r.phone_number AND d.created_at > ?${n - 2}) AS requests_last_day,
         NOT EXISTS (SELECT 1 FROM otp_requests m
                     WHERE m.phone_number = r.phone_number AND m.app_id IS r.app_id
                       AND (m.created_at, m.id) > (r.created_at, r.id) AND ${where('m')}) AS newest_match,
         EXISTS (SELECT 1 FROM otp_requests e
                 WHERE e.resend_id = ?${n - 1} AND ${APP_KEY('e')} = ${APP_KEY('r')} AND e.phone_number = r.phone_number) AS already_resent
       FROM otp_requests r
       WHERE ${where('r')} AND (r.created_at, r.id) > (?${n - 4}, ?${n - 3})
       ORDER BY r.created_at, r.id
       LIMIT ?${n}`,
    )
    .bind(...params)
    .all();
  return results.map((row) => MatchRow.parse(row));
}
