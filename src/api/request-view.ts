import { ACTIVE_STATUSES, type OtpRequestRow, type RequestStatus } from '../db/requests';
import { maskPhoneNumber } from '../phone';
import { publicLastError } from './public-last-error';

/**
 * A request's status as apps see it. A code whose lifetime ended while it was still waiting or
 * unverified reads as `expired` even before a background job has written that down.
 */
export function effectiveStatus(row: Pick<OtpRequestRow, 'status' | 'expires_at'>, now: number): RequestStatus {
  return ACTIVE_STATUSES.includes(row.status) && row.expires_at <= now ? 'expired' : row.status;
}

export function requestView(row: OtpRequestRow, now: number) {
  const status = effectiveStatus(row, now);
  return {
    requestId: row.id,
    status,
    phoneNumber: maskPhoneNumber(row.phone_number),
    attempts: row.attempts,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
    expiresAt: new Date(row.expires_at).toISOString(),
    channel: row.channel,
    // Which provider and channel the code went out through, once it did.
    deliveredVia: row.sent_provider ? { provider: row.sent_provider, channel: row.sent_channel ?? 'sms' } : null,
    // Never the stored message: it may hold the provider's text (admin-views.ts shows it to operators).
    ...(row.last_error_code
      ? { lastError: publicLastError(row.last_error_code) }
      : status === 'expired' && row.status !== 'expired'
        ? { lastError: publicLastError('code_expired') }
        : {}),
  };
}
