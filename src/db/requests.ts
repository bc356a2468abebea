import { z } from 'zod';
import { activeLockCondition } from './phone-locks';
import { activeBlockCondition } from './prefix-blocks';
import { requestEventStatement, writtenEventIds } from './webhook-events';

export const RequestStatus = z.enum(['queued', 'sending', 'sent', 'delivered', 'failed', 'expired', 'verified', 'superseded']);
export type RequestStatus = z.infer<typeof RequestStatus>;

/** Who asked for the request: an app through the API, or an operator's bulk resend. */
export const REQUEST_ORIGINS = ['api', 'operator_resend'] as const;
export type RequestOrigin = (typeof REQUEST_ORIGINS)[number];

/** What the provider's delivery reports say; `unknown` once no further check will be made. */
export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed', 'unknown'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** States after which no SMS is ever sent for the request again. */
export const FINAL_STATUSES: readonly RequestStatus[] = ['sent', 'delivered', 'failed', 'expired', 'verified', 'superseded'];
/** States in which a request's code can still be delivered or verified. */
export const ACTIVE_STATUSES: readonly RequestStatus[] = ['queued', 'sending', 'sent', 'delivered'];

/** Statuses in which a code can still be checked (a `failed` send may still have reached the phone). */
const CHECKABLE_STATUSES: readonly RequestStatus[] = ['queued', 'sending', 'sent', 'delivered', 'failed'];

const sqlList = (values: readonly string[]) => values.map((value) => `'${value}'`).join(', ');

/**
 * The statuses otp_requests_unsuccessful_created_id holds (migration 0015): those operators look
 * for that stay rare, so the happy path writes no entry. Its WHERE term, written exactly as in the
 * index, is what lets SQLite read it.
 */
export const UNSUCCESSFUL_STATUSES: readonly RequestStatus[] = ['failed', 'expired'];
export const UNSUCCESSFUL_INDEX_TERM = `status IN (${sqlList(UNSUCCESSFUL_STATUSES)})`;

export const OtpRequestRow = z.object({
  id: z.string(),
  phone_number: z.string(),
  phone_prefix: z.string(),
  status: RequestStatus,
  origin: z.enum(REQUEST_ORIGINS),
  replaces_request_id: z.string().nullable(),
  created_at: z.number(),
  updated_at: z.number(),
  expires_at: z.number(),
  attempts: z.number(),
  lease_until: z.number().nullable(),
  enqueued_at: z.number().nullable(),
  sent_at: z.number().nullable(),
  provider_message_id: z.string().nullable(),
  last_error_code: z.string().nullable(),
  last_error_message: z.string().nullable(),
  verify_attempts: z.number(),
  verified_at: z.number().nullable(),
  delivery_status: z.enum(DELIVERY_STATUSES).nullable(),
  delivered_at: z.number().nullable(),
  delivery_checks: z.number(),
  resend_id: z.string().nullable(),
  app_id: z.string().nullable(),
  code_length: z.number().nullable(),
  test_number: z.number(),
  /** The channel asked for, and the provider and channel the current message went out through. */
  channel: z.enum(['sms', 'whatsapp', 'auto']),
  sent_provider: z.string().nullable(),
  sent_channel: z.enum(['sms', 'whatsapp']).nullable(),
  sms_fallback_at: z.number().nullable(),
});
export type OtpRequestRow = z.infer<typeof OtpRequestRow>;

export interface NewRequest {
  id: string;
  /** The app whose key asked (an operator resend keeps the app of the request it replaces). */
  appId: string | null;
  /** Digits of the code, fixed for the request's life (apps may choose their own). */
  codeLength: number;
  /** An app's test number: a fixed code, never sent to a provider (see createTestNumberStatements). */
  testNumber?: boolean;
  /** `sms` when absent; `auto` is WhatsApp first, SMS when it is not delivered in time. */
  channel?: 'sms' | 'whatsapp' | 'auto';
  phoneNumber: string;
  phonePrefix: string;
  createdAt: number;
  expiresAt: number;
  /** Set for operator resends: the request this one replaces and the bulk resend that made it. */
  operatorResend?: { replacesRequestId: string; resendId: string };
  /**
   * When the caller hands the job to the queue right after this insert: written with the row
   * (one row written instead of a second update), and cleared by `clearEnqueued` if the send fails.
   */
  enqueuedAt?: number;
  /**
   * The API's sends: the request is written only if, at this time, no active block (of any
   * length, operator or mirrored automatic) covers the number and the phone is not locked; the
   * batch then writes nothing of it (see `requestInserted`). The check is the insert's own
   * condition, so an admitted send costs no separate read. Operator resends check blocks before.
   */
  unlessBlockedOrLockedAt?: number;
}

/**
 * Inserts a queued request. Its phone's older active requests of the same app are superseded: one
 * live code per phone and app (two apps' logins to one phone do not cancel each other). With
 * `unlessBlockedOrLockedAt`, both statements carry the same condition (one transaction, so both
 * see the same blocks and locks): a refused request supersedes nothing.
 */
export function insertRequestStatements(db: D1Database, request: NewRequest): D1PreparedStatement[] {
  const supersedeGuard = unlessBlockedOrLocked(request, 4);
  const insertGuard = unlessBlockedOrLocked(request, 14);
  const values = `?1, ?2, ?3, 'queued', ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13`;
  return [
    db
      .prepare(
        `UPDATE otp_requests SET status = 'superseded', updated_at = ?1, lease_until = NULL
         WHERE phone_number = ?2 AND app_id IS ?3 AND status IN (${sqlList(ACTIVE_STATUSES)})${supersedeGuard ? ` AND ${supersedeGuard.sql}` : ''}`,
      )
      .bind(request.createdAt, request.phoneNumber, request.appId, ...(supersedeGuard?.parameters ?? [])),
    db
      .prepare(
        `INSERT INTO otp_requests (id, phone_number, phone_prefix, status, created_at, updated_at, expires_at,
           origin, replaces_request_id, resend_id, enqueued_at, app_id, code_length, test_number, channel)
         ${insertGuard ? `SELECT ${values} WHERE ${insertGuard.sql}` : `VALUES (${values})`}`,
      )
      .bind(
        request.id,
        request.phoneNumber,
        request.phonePrefix,
        request.createdAt,
        request.expiresAt,
        request.operatorResend ? 'operator_resend' : 'api',
        request.operatorResend?.replacesRequestId ?? null,
        request.operatorResend?.resendId ?? null,
        request.enqueuedAt ?? null,
        request.appId,
        request.codeLength,
        request.testNumber ? 1 : 0,
        request.channel ?? 'sms',
        ...(insertGuard?.parameters ?? []),
      ),
  ];
}

/** `NOT <lock> AND NOT <block>` with parameters from `firstParameter` on; null for an unconditional insert. */
function unlessBlockedOrLocked(request: NewRequest, firstParameter: number): { sql: string; parameters: unknown[] } | null {
  const at = request.unlessBlockedOrLockedAt;
  if (at === undefined) return null;
  const lock = activeLockCondition(request.phoneNumber, at, firstParameter);
  const block = activeBlockCondition(request.phoneNumber, at, firstParameter + lock.parameters.length);
  return { sql: `NOT ${lock.sql} AND NOT ${block.sql}`, parameters: [...lock.parameters, ...block.parameters] };
}

/**
 * Whether the batch that began with `insertRequestStatements` wrote the request: false only when
 * its `unlessBlockedOrLockedAt` condition held it back.
 */
export function requestInserted(results: readonly D1Result[]): boolean {
  return (results[1]?.meta.changes ?? 0) > 0;
}

export async function getRequest(db: D1Database, id: string): Promise<OtpRequestRow | null> {
  const row = await db.prepare('SELECT * FROM otp_requests WHERE id = ?').bind(id).first();
  return row ? OtpRequestRow.parse(row) : null;
}

/** The job never reached the queue after all: the sweeper looks for exactly this mark's absence. */
export async function clearEnqueued(db: D1Database, id: string): Promise<void> {
  await db.prepare('UPDATE otp_requests SET enqueued_at = NULL WHERE id = ?1').bind(id).run();
}

/** D1 binds at most 100 parameters per statement. */
const IDS_PER_UPDATE = 90;

/** Marks requests whose send jobs reached the queue, as statements for one batch. */
export function markEnqueuedStatements(db: D1Database, ids: readonly string[], now: number): D1PreparedStatement[] {
  const statements = [];
  for (let start = 0; start < ids.length; start += IDS_PER_UPDATE) {
    const slice = ids.slice(start, start + IDS_PER_UPDATE);
    const placeholders = slice.map((_, index) => `?${index + 2}`).join(', ');
    statements.push(db.prepare(`UPDATE otp_requests SET enqueued_at = ?1 WHERE id IN (${placeholders})`).bind(now, ...slice));
  }
  return statements;
}

/** A delivery the provider has not settled yet (no report, or one still in flight or inconclusive). */
const NOT_YET_REPORTED = "(delivery_status IS NULL OR delivery_status IN ('pending', 'unknown'))";

/**
 * Counts one attempt and, when the code matched, verifies the request, in one statement: one row
 * written instead of two. Applies only while the request can still be checked and has attempts
 * left; answers null otherwise. A success is recorded on the row (`status`, `verified_at`) and
 * nowhere else: verification_events holds the failed outcomes only.
 *
 * A right code also proves the message arrived, so an unsettled delivery becomes `delivered` at
 * the verification's time: the delayed status check then ends as `already_final` without asking
 * the provider, taking a pacing slot or writing its rows.
 */
export async function countVerifyAttempt(
  db: D1Database,
  requestId: string,
  matches: boolean,
  now: number,
  maxAttempts: number,
): Promise<{ verify_attempts: number; status: string; webhookEventIds: string[] } | null> {
  const results = await db.batch<{ verify_attempts: number; status: string }>([
    db
      .prepare(
        `UPDATE otp_requests
         SET verify_attempts = verify_attempts + 1, updated_at = ?1,
             status = CASE WHEN ?4 = 1 THEN 'verified' ELSE status END,
             verified_at = CASE WHEN ?4 = 1 THEN ?1 ELSE verified_at END,
             delivery_status = CASE WHEN ?4 = 1 AND ${NOT_YET_REPORTED} THEN 'delivered' ELSE delivery_status END,
             delivered_at = CASE WHEN ?4 = 1 AND ${NOT_YET_REPORTED} THEN ?1 ELSE delivered_at END
         WHERE id = ?2 AND verify_attempts < ?3 AND status IN (${sqlList(CHECKABLE_STATUSES)}) AND expires_at > ?1
         RETURNING verify_attempts, status`,
      )
      .bind(now, requestId, maxAttempts, matches ? 1 : 0),
    // `otp.verified`, for apps with a webhook; the request's status says whether it just happened.
    ...(matches ? [requestEventStatement(db, requestId, now)] : []),
  ]);
  const counted = results[0]?.results[0];
  return counted ? { ...counted, webhookEventIds: writtenEventIds(results) } : null;
}
