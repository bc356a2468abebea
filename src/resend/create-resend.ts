import { insertJobStatement, type ResendableStatus, type ResendFilter } from '../db/resend-jobs';
import { countMatches } from '../db/resend-matches';
import { ApiError } from '../errors';
import { newResendId } from '../ids';
import { errorName, logError, logInfo } from '../log';
import { resendFanout } from '../queue/messages';

export interface ResendInput {
  status: ResendableStatus | ResendableStatus[];
  since: number;
  until?: number | undefined;
  appId?: string | undefined;
  phoneNumbers?: string[] | undefined;
  requestIds?: string[] | undefined;
}

/** The stored filter of a resend asked for at `now`: lists without repeats, `until` never past now. */
export function resendFilter(input: ResendInput, now: number): ResendFilter {
  const filter: ResendFilter = {
    statuses: [...new Set(Array.isArray(input.status) ? input.status : [input.status])],
    since: input.since,
    // A resend matches what existed when it was asked for, never the requests it creates.
    until: Math.min(input.until ?? now, now),
    ...(input.appId ? { appId: input.appId } : {}),
    ...(input.phoneNumbers ? { phoneNumbers: [...new Set(input.phoneNumbers)] } : {}),
    ...(input.requestIds ? { requestIds: [...new Set(input.requestIds)] } : {}),
  };
  if (filter.since >= filter.until) throw new ApiError('invalid_request', 'filter.since: must be before filter.until and before now');
  return filter;
}

export type ResendStart = { dryRun: true; matched: number; phones: number } | { dryRun: false; resendId: string; matched: number; phones: number };

/**
 * Counts what the filter matches and, unless it is a dry run, records the job and enqueues its
 * first step. A step that never reaches the queue is started by the every-minute cron.
 */
export async function startResend(env: Env, filter: ResendFilter, dryRun: boolean, now: number): Promise<ResendStart> {
  const { matched, phones } = await countMatches(env.DB, filter);
  if (dryRun) return { dryRun: true, matched, phones };

  const resendId = newResendId();
  await env.DB.batch([insertJobStatement(env.DB, { id: resendId, filter, matched, now })]);
  try {
    await env.SEND_QUEUE.send(resendFanout(resendId, 0));
  } catch (error) {
    // The job is recorded; the every-minute cron starts a job whose first step never ran.
    logError('resend.enqueue_failed', { resendId, error: errorName(error) });
  }
  logInfo('resend.created', { resendId, matched, phones, statuses: filter.statuses.join(','), ...(filter.appId ? { appId: filter.appId } : {}) });
  return { dryRun: false, resendId, matched, phones };
}
