import { env } from 'cloudflare:test';

/**
 * Moves the given requests `ms` into the past, with their attempts and status checks: to the
 * code under test (which reads the clock) it is as if that much time had gone by since. Times
 * that are not set stay unset.
 */
export async function elapse(ms: number, requestIds: readonly string[]): Promise<void> {
  await env.DB.batch(
    requestIds.flatMap((id) => [
      env.DB.prepare(
        `UPDATE otp_requests
         SET created_at = created_at - ?1, updated_at = updated_at - ?1, expires_at = expires_at - ?1,
             enqueued_at = enqueued_at - ?1, lease_until = lease_until - ?1, sent_at = sent_at - ?1,
             verified_at = verified_at - ?1, delivered_at = delivered_at - ?1
         WHERE id = ?2`,
      ).bind(ms, id),
      env.DB.prepare('UPDATE delivery_attempts SET started_at = started_at - ?1, finished_at = finished_at - ?1 WHERE request_id = ?2').bind(ms, id),
      env.DB.prepare('UPDATE status_checks SET checked_at = checked_at - ?1 WHERE request_id = ?2').bind(ms, id),
    ]),
  );
}

/** Takes every waiting or sent request out of the sweeper's sight, so a test sees only its own. */
export async function retireOtherRequests(): Promise<void> {
  await env.DB.prepare("UPDATE otp_requests SET status = 'superseded', lease_until = NULL WHERE status IN ('queued', 'sending', 'sent')").run();
}
