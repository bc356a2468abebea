import { z } from 'zod';

/** The statuses a bulk resend may select: codes that did not, or not knowingly, reach the phone. */
export const RESENDABLE_STATUSES = ['failed', 'expired', 'sent'] as const;
export type ResendableStatus = (typeof RESENDABLE_STATUSES)[number];

export interface ResendFilter {
  statuses: ResendableStatus[];
  since: number;
  until: number;
  /** Only this app's requests; a new request always stays in the app of the one it replaces. */
  appId?: string;
  phoneNumbers?: string[];
  requestIds?: string[];
}

/**
 * Why a match got no new code. `same_phone`: a phone is decided once per app, at its newest match
 * in that app, so each of its older matches there is counted here (as is a match of a phone this
 * resend already covered in that app).
 */
export const SKIP_REASONS = ['same_phone', 'verified_since', 'newer_request', 'prefix_blocked', 'daily_cap'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

const SKIP_COLUMNS: Record<SkipReason, string> = {
  same_phone: 'skipped_duplicate',
  verified_since: 'skipped_verified',
  newer_request: 'skipped_newer_request',
  prefix_blocked: 'skipped_prefix_blocked',
  daily_cap: 'skipped_daily_cap',
};

const StoredFilter = z.object({
  statuses: z.array(z.enum(RESENDABLE_STATUSES)),
  since: z.number(),
  until: z.number(),
  appId: z.string().optional(),
  phoneNumbers: z.array(z.string()).optional(),
  requestIds: z.array(z.string()).optional(),
});

export const ResendJobRow = z.object({
  id: z.string(),
  created_at: z.number(),
  updated_at: z.number(),
  finished_at: z.number().nullable(),
  filter_json: z.string(),
  since: z.number(),
  until: z.number(),
  matched: z.number(),
  chunks_done: z.number(),
  cursor_created_at: z.number().nullable(),
  cursor_id: z.string().nullable(),
  enqueued: z.number(),
  skipped_verified: z.number(),
  skipped_newer_request: z.number(),
  skipped_daily_cap: z.number(),
  skipped_prefix_blocked: z.number(),
  skipped_duplicate: z.number(),
});
export type ResendJobRow = z.infer<typeof ResendJobRow>;

export function jobFilter(job: ResendJobRow): ResendFilter {
  return StoredFilter.parse(JSON.parse(job.filter_json));
}

export function skippedByReason(job: ResendJobRow): Record<SkipReason, number> {
  return Object.fromEntries(SKIP_REASONS.map((reason) => [reason, job[SKIP_COLUMNS[reason] as keyof ResendJobRow] as number])) as Record<SkipReason, number>;
}

export function insertJobStatement(db: D1Database, job: { id: string; filter: ResendFilter; matched: number; now: number }) {
  return db
    .prepare(
      `INSERT INTO resend_jobs (id, created_at, updated_at, filter_json, since, until, matched)
       VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6)`,
    )
    .bind(job.id, job.now, JSON.stringify(job.filter), job.filter.since, job.filter.until, job.matched);
}

export async function getJob(db: D1Database, id: string): Promise<ResendJobRow | null> {
  const row = await db.prepare('SELECT * FROM resend_jobs WHERE id = ?1').bind(id).first();
  return row ? ResendJobRow.parse(row) : null;
}

export async function recentJobs(db: D1Database, limit: number): Promise<ResendJobRow[]> {
  const { results } = await db.prepare('SELECT * FROM resend_jobs ORDER BY created_at DESC LIMIT ?1').bind(limit).all();
  return results.map((row) => ResendJobRow.parse(row));
}

export interface ChunkResult {
  resendId: string;
  step: number;
  matched: number;
  enqueued: number;
  skipped: Record<SkipReason, number>;
  cursor: { createdAt: number; id: string } | null;
  finished: boolean;
  now: number;
}

/**
 * The bookkeeping of one processed page, for the same D1 batch as the page's new requests. The
 * chunk row's key makes a second copy of the step fail the whole batch, new requests included.
 */
export function recordChunkStatements(db: D1Database, chunk: ChunkResult): D1PreparedStatement[] {
  const skipAssignments = SKIP_REASONS.map((reason, index) => `${SKIP_COLUMNS[reason]} = ${SKIP_COLUMNS[reason]} + ?${index + 8}`).join(', ');
  return [
    db
      .prepare('INSERT INTO resend_chunks (resend_id, chunk_number, processed_at, matched, enqueued) VALUES (?1, ?2, ?3, ?4, ?5)')
      .bind(chunk.resendId, chunk.step, chunk.now, chunk.matched, chunk.enqueued),
    db
      .prepare(
        `UPDATE resend_jobs
         SET chunks_done = chunks_done + 1, updated_at = ?3, enqueued = enqueued + ?4,
             cursor_created_at = COALESCE(?5, cursor_created_at), cursor_id = COALESCE(?6, cursor_id),
             finished_at = CASE WHEN ?7 THEN ?3 ELSE NULL END, ${skipAssignments}
         WHERE id = ?1 AND chunks_done = ?2`,
      )
      .bind(
        chunk.resendId,
        chunk.step,
        chunk.now,
        chunk.enqueued,
        chunk.cursor?.createdAt ?? null,
        chunk.cursor?.id ?? null,
        chunk.finished ? 1 : 0,
        ...SKIP_REASONS.map((reason) => chunk.skipped[reason]),
      ),
  ];
}

/** Unfinished jobs whose progress was last written at or before `updatedBefore`, oldest first. */
export async function stalledJobs(db: D1Database, updatedBefore: number, limit: number): Promise<Array<{ id: string; chunks_done: number }>> {
  const { results } = await db
    .prepare('SELECT id, chunks_done FROM resend_jobs WHERE finished_at IS NULL AND updated_at <= ?1 ORDER BY updated_at LIMIT ?2')
    .bind(updatedBefore, limit)
    .all<{ id: string; chunks_done: number }>();
  return results;
}

/** Notes that the jobs' current steps were just re-enqueued. */
export async function touchJobs(db: D1Database, ids: readonly string[], now: number): Promise<void> {
  const placeholders = ids.map((_, index) => `?${index + 2}`).join(', ');
  await db
    .prepare(`UPDATE resend_jobs SET updated_at = ?1 WHERE id IN (${placeholders})`)
    .bind(now, ...ids)
    .run();
}
