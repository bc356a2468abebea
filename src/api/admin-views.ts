import type { AttemptRow, LinkedRequest, StatusCheckRow } from '../db/audit-queries';
import type { OtpRequestRow } from '../db/requests';
import { jobFilter, type ResendJobRow, skippedByReason } from '../db/resend-jobs';
import { effectiveStatus } from './request-view';

/** What operators see of stored rows: ISO times, camelCase, the full phone number (it is their audit). */

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function adminRequestView(row: OtpRequestRow, now: number) {
  return {
    requestId: row.id,
    appId: row.app_id,
    testNumber: row.test_number === 1,
    status: row.status,
    effectiveStatus: effectiveStatus(row, now),
    origin: row.origin,
    phoneNumber: row.phone_number,
    phonePrefix: row.phone_prefix,
    attempts: row.attempts,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
    expiresAt: iso(row.expires_at)!,
    enqueuedAt: iso(row.enqueued_at),
    sentAt: iso(row.sent_at),
    providerMessageId: row.provider_message_id,
    channel: row.channel,
    sentProvider: row.sent_provider,
    sentChannel: row.sent_channel,
    smsFallbackAt: iso(row.sms_fallback_at),
    deliveryStatus: row.delivery_status,
    deliveredAt: iso(row.delivered_at),
    deliveryChecks: row.delivery_checks,
    verifiedAt: iso(row.verified_at),
    verifyAttempts: row.verify_attempts,
    lastError: row.last_error_code ? { code: row.last_error_code, message: row.last_error_message ?? '' } : null,
    replacesRequestId: row.replaces_request_id,
    resendId: row.resend_id,
  };
}

export function attemptView(row: AttemptRow) {
  return {
    attemptId: row.id,
    requestId: row.request_id,
    appId: row.app_id,
    phoneNumber: row.phone_number,
    origin: row.origin,
    provider: row.provider,
    attemptNumber: row.attempt_number,
    startedAt: iso(row.started_at)!,
    finishedAt: iso(row.finished_at)!,
    durationMs: row.duration_ms,
    outcome: row.outcome,
    channel: row.channel ?? 'sms',
    ambiguous: row.ambiguous === 1,
    httpStatus: row.http_status,
    providerMessageId: row.provider_message_id,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    retryDelaySeconds: row.retry_delay_seconds,
  };
}

export function statusCheckView(row: StatusCheckRow) {
  return {
    checkNumber: row.check_number,
    checkedAt: iso(row.checked_at)!,
    durationMs: row.duration_ms,
    httpStatus: row.http_status,
    providerStatus: row.provider_status,
    outcome: row.outcome,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    nextCheckSeconds: row.next_check_seconds,
  };
}

export interface TimelineEvent {
  at: string;
  event: string;
  detail: string;
}

/** One request's life as a list of dated events, oldest first, for people to read. */
export function timeline(request: OtpRequestRow, attempts: AttemptRow[], checks: StatusCheckRow[], replacedBy: LinkedRequest[]): TimelineEvent[] {
  const events: Array<TimelineEvent & { ms: number; order: number }> = [];
  const add = (ms: number | null, order: number, event: string, detail: string) => {
    if (ms !== null) events.push({ ms, order, at: iso(ms)!, event, detail });
  };
  add(
    request.created_at,
    0,
    'created',
    request.origin === 'operator_resend'
      ? `operator resend ${request.resend_id ?? ''} replacing ${request.replaces_request_id ?? ''}`.trim()
      : 'requested through the API',
  );
  add(request.enqueued_at, 1, 'enqueued', 'send job handed to the queue');
  for (const attempt of attempts) {
    const parts = [
      `attempt ${attempt.attempt_number}: ${attempt.outcome}`,
      attempt.http_status === null ? 'no HTTP answer' : `HTTP ${attempt.http_status}`,
      `${attempt.duration_ms} ms`,
    ];
    if (attempt.error_code) parts.push(attempt.error_code);
    if (attempt.retry_delay_seconds !== null) parts.push(`retry in ${attempt.retry_delay_seconds} s`);
    add(attempt.started_at, 2, 'attempt', parts.join(', '));
  }
  for (const check of checks) {
    const parts = [`check ${check.check_number}: ${check.outcome}`];
    if (check.provider_status) parts.push(`provider says ${check.provider_status}`);
    if (check.error_code) parts.push(check.error_code);
    if (check.next_check_seconds !== null) parts.push(`next check in ${check.next_check_seconds} s`);
    add(check.checked_at, 3, 'status_check', parts.join(', '));
  }
  add(request.verified_at, 4, 'verified', 'the code was verified');
  for (const next of replacedBy) add(next.created_at, 5, 'replaced', `operator resend created ${next.id} (${next.status})`);
  if (['failed', 'expired', 'superseded'].includes(request.status)) {
    // The end cannot come before what led to it, whatever updated_at says.
    const endedAt = Math.max(request.updated_at, ...events.map((event) => event.ms));
    add(endedAt, 6, request.status, request.last_error_code ? `${request.last_error_code}: ${request.last_error_message ?? ''}` : request.status);
  }
  return events.sort((a, b) => a.ms - b.ms || a.order - b.order).map(({ at, event, detail }) => ({ at, event, detail }));
}

export function resendJobView(job: ResendJobRow) {
  const skipped = skippedByReason(job);
  const filter = jobFilter(job);
  return {
    resendId: job.id,
    createdAt: iso(job.created_at)!,
    updatedAt: iso(job.updated_at)!,
    finishedAt: iso(job.finished_at),
    done: job.finished_at !== null,
    filter: {
      status: filter.statuses,
      since: iso(filter.since)!,
      until: iso(filter.until)!,
      ...(filter.appId ? { appId: filter.appId } : {}),
      ...(filter.phoneNumbers ? { phoneNumbers: filter.phoneNumbers } : {}),
      ...(filter.requestIds ? { requestIds: filter.requestIds } : {}),
    },
    matched: job.matched,
    pagesDone: job.chunks_done,
    enqueued: job.enqueued,
    skipped: { total: Object.values(skipped).reduce((sum, n) => sum + n, 0), byReason: skipped },
  };
}
