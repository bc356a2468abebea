import { settingsOfApps } from '../apps/settings-of-apps';
import type { Config } from '../config';
import { isUniqueViolation } from '../db/idempotency-keys';
import { insertRequestStatements, markEnqueuedStatements } from '../db/requests';
import { getJob, jobFilter, recordChunkStatements, SKIP_REASONS, type SkipReason } from '../db/resend-jobs';
import { type MatchRow, pageOfMatches } from '../db/resend-matches';
import { newRequestId } from '../ids';
import { type PrefixBlocks, prefixBlocksFor } from '../limiter/prefix-blocks';
import { errorName, logError, logInfo, logWarn } from '../log';
import { type ResendFanout, resendFanout, sendJob } from '../queue/messages';

/** Matches handled per fan-out step: one D1 batch of at most 2 statements per new request. */
export const RESEND_CHUNK_SIZE = 100;

/**
 * Runs `resend_fanout` messages. Each one handles the next page of a bulk resend's matches: one
 * new request (new id, new code) per phone and app that still needs a code there, written in one
 * D1 batch with the job's progress, then their send jobs, spread over time at the resend pace,
 * then the next step. A copy of a step that already ran, or runs concurrently, changes nothing.
 */
export async function handleResendFanouts(
  items: ReadonlyArray<{ message: Message<unknown>; body: ResendFanout }>,
  env: Env,
  config: Config,
  prefixBlocks: PrefixBlocks = prefixBlocksFor(env),
): Promise<void> {
  // Steps of one job must not race each other: run them one after another.
  for (const { message, body } of items) {
    try {
      await runStep(body, env, config, prefixBlocks);
      message.ack();
    } catch (error) {
      logError('resend.step_failed', { resendId: body.resendId, step: body.step, error: errorName(error) });
      message.retry({ delaySeconds: 30 });
    }
  }
}

async function runStep(body: ResendFanout, env: Env, config: Config, prefixBlocks: PrefixBlocks): Promise<void> {
  const { resendId, step } = body;
  const job = await getJob(env.DB, resendId);
  if (!job || job.finished_at !== null || job.chunks_done !== step) {
    logInfo('resend.step_stale', { resendId, step, reason: !job ? 'job_gone' : job.finished_at !== null ? 'finished' : 'other_step' });
    return;
  }

  const now = Date.now();
  const cursor = job.cursor_created_at !== null && job.cursor_id !== null ? { createdAt: job.cursor_created_at, id: job.cursor_id } : null;
  const rows = await pageOfMatches(env.DB, { resendId, filter: jobFilter(job), cursor, limit: RESEND_CHUNK_SIZE, now });
  const decisions = await decide(rows, config, prefixBlocks);

  const created = decisions.flatMap((decision) => (decision.skip === null ? [{ match: decision.match, requestId: newRequestId() }] : []));
  const skipped = Object.fromEntries(SKIP_REASONS.map((reason) => [reason, 0])) as Record<SkipReason, number>;
  for (const decision of decisions) if (decision.skip) skipped[decision.skip] += 1;
  const last = rows.at(-1);
  const finished = rows.length < RESEND_CHUNK_SIZE;

  const appSettings = await settingsOfApps(
    env.DB,
    config,
    created.map(({ match }) => match.app_id),
  );
  const statements = created.flatMap(({ match, requestId }) => {
    // The new code belongs to the same app as the one it replaces, with that app's settings today.
    const settings = (match.app_id && appSettings.get(match.app_id)) || null;
    return insertRequestStatements(env.DB, {
      id: requestId,
      appId: match.app_id,
      codeLength: settings?.otpLength ?? match.code_length ?? config.otp.length,
      phoneNumber: match.phone_number,
      phonePrefix: match.phone_prefix,
      createdAt: now,
      expiresAt: now + (settings?.otpTtlSeconds ?? config.otp.ttlSeconds) * 1000,
      operatorResend: { replacesRequestId: match.id, resendId },
    });
  });
  statements.unshift(
    ...recordChunkStatements(env.DB, {
      resendId,
      step,
      matched: rows.length,
      enqueued: created.length,
      skipped,
      cursor: last ? { createdAt: last.created_at, id: last.id } : null,
      finished,
      now,
    }),
  );
  try {
    await env.DB.batch(statements);
  } catch (error) {
    if (isUniqueViolation(error)) {
      // Another copy of this step got there first; everything it wrote stands, nothing of ours does.
      logInfo('resend.step_stale', { resendId, step, reason: 'concurrent_copy' });
      return;
    }
    throw error;
  }

  await enqueueSends(
    env,
    config,
    created.map((entry) => entry.requestId),
  );
  logInfo('resend.step_done', { resendId, step, matched: rows.length, enqueued: created.length, ...skipped, finished });
  if (finished) return;
  try {
    await env.SEND_QUEUE.send(resendFanout(resendId, step + 1), { delaySeconds: Math.ceil(created.length / config.resend.sendsPerSecond) });
  } catch (error) {
    // The request rows and progress are saved; the every-minute cron restarts a stalled job.
    logWarn('resend.next_step_not_enqueued', { resendId, step, error: errorName(error) });
  }
}

type Decision = { match: MatchRow; skip: SkipReason | null };

/** Which matches get a new code, and why the others do not. */
async function decide(rows: MatchRow[], config: Config, prefixBlocks: PrefixBlocks): Promise<Decision[]> {
  const decisions: Decision[] = [];
  for (const match of rows) {
    let skip: SkipReason | null = null;
    if (!match.newest_match || match.already_resent) skip = 'same_phone';
    else if (match.verified_since) skip = 'verified_since';
    else if (match.newer_active) skip = 'newer_request';
    else if (await prefixBlocks.isBlocked(match.phone_number)) skip = 'prefix_blocked';
    else if (match.requests_last_day >= config.resend.dailyCapPerPhone) skip = 'daily_cap';
    decisions.push({ match, skip });
  }
  return decisions;
}

/**
 * Hands the new requests to the send queue at the resend pace: at most `sendsPerSecond` jobs
 * become visible in any one second, and the next step waits until this page has drained. A
 * failed enqueue leaves the rows unmarked, so the sweeper enqueues them instead.
 */
async function enqueueSends(env: Env, config: Config, requestIds: string[]): Promise<void> {
  if (requestIds.length === 0) return;
  const rate = config.resend.sendsPerSecond;
  try {
    await env.SEND_QUEUE.sendBatch(requestIds.map((id, index) => ({ body: sendJob(id), delaySeconds: Math.floor(index / rate) })));
  } catch (error) {
    logWarn('resend.sends_not_enqueued', { requests: requestIds.length, error: errorName(error) });
    return;
  }
  const updates = markEnqueuedStatements(env.DB, requestIds, Date.now());
  await env.DB.batch(updates).catch((error) => logWarn('resend.mark_enqueued_failed', { error: errorName(error) }));
}
