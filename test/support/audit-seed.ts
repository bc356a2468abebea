import { env } from 'cloudflare:test';
import { newAttemptIdSql } from '../../src/db/delivery-attempts';
import type { RequestStatus } from '../../src/db/requests';
import { newRequestId } from '../../src/ids';
import { phonePrefix } from '../../src/phone';
import { TEST_APP } from './apps';

export interface SeededRequest {
  id: string;
  phoneNumber: string;
  createdAt: number;
}

/** Writes a request row exactly as given, for tests that need chosen times and states; it belongs to the test app unless told otherwise. */
export async function insertRequestRow(row: {
  phoneNumber: string;
  createdAt: number;
  status?: RequestStatus;
  id?: string;
  attempts?: number;
  sentAt?: number | null;
  lastErrorCode?: string | null;
  deliveryStatus?: 'pending' | 'delivered' | 'failed' | 'unknown' | null;
  verifiedAt?: number | null;
  origin?: 'api' | 'operator_resend';
  providerMessageId?: string | null;
  ttlMs?: number;
  /** The test app's unless given; null for a request made before apps existed. */
  appId?: string | null;
  testNumber?: boolean;
  resendId?: string | null;
}): Promise<SeededRequest> {
  const id = row.id ?? newRequestId();
  await env.DB.prepare(
    `INSERT INTO otp_requests (id, phone_number, phone_prefix, status, origin, created_at, updated_at, expires_at, attempts,
       sent_at, last_error_code, last_error_message, delivery_status, verified_at, provider_message_id, enqueued_at, app_id, code_length,
       test_number, resend_id)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?6, ?15, 6, ?16, ?17)`,
  )
    .bind(
      id,
      row.phoneNumber,
      phonePrefix(row.phoneNumber),
      row.status ?? 'queued',
      row.origin ?? 'api',
      row.createdAt,
      row.createdAt + (row.ttlMs ?? 300_000),
      row.attempts ?? 0,
      row.sentAt ?? null,
      row.lastErrorCode ?? null,
      row.lastErrorCode ? `${row.lastErrorCode} happened` : null,
      row.deliveryStatus ?? null,
      row.verifiedAt ?? null,
      row.providerMessageId ?? null,
      row.appId === undefined ? TEST_APP.id : row.appId,
      row.testNumber ? 1 : 0,
      row.resendId ?? null,
    )
    .run();
  return { id, phoneNumber: row.phoneNumber, createdAt: row.createdAt };
}

export async function insertAttemptRow(row: {
  requestId: string;
  attemptNumber: number;
  startedAt: number;
  durationMs: number;
  outcome: 'sent' | 'retry' | 'failed' | 'expired';
  httpStatus?: number | null;
  errorCode?: string | null;
  errorMessage?: string | null;
  provider?: string | null;
}): Promise<void> {
  await env.DB.prepare(
    `INSERT INTO delivery_attempts (id, request_id, attempt_number, started_at, finished_at, duration_ms, outcome, http_status, error_code, error_message, provider)
     VALUES (${newAttemptIdSql('?3')}, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)`,
  )
    .bind(
      row.requestId,
      row.attemptNumber,
      row.startedAt,
      row.startedAt + row.durationMs,
      row.durationMs,
      row.outcome,
      row.httpStatus ?? null,
      row.errorCode ?? null,
      row.errorMessage ?? null,
      row.provider ?? null,
    )
    .run();
}

let windowCounter = 0;
/**
 * A time window of its own for each call, far in the past, so counts inside it see only what the
 * test seeded there, whatever else the file's tests wrote.
 */
export function privateWindow(lengthMs = 86_400_000): { since: number; until: number } {
  windowCounter += 1;
  const since = Date.UTC(2001, 0, 1) + windowCounter * 10 * 86_400_000;
  return { since, until: since + lengthMs };
}
