import type { Config } from '../config';
import { IDEMPOTENCY_WINDOW_MS } from '../db/idempotency-keys';
import { deleteOldRequests, deleteOldResendJobs, deleteOldRows, deleteOldWebhookEvents, type StandaloneTable } from '../db/retention-deletes';
import { logInfo } from '../log';

/** The cron expression of the daily retention run; the same string as in wrangler.toml. */
export const RETENTION_CRON = '17 3 * * *';
export const RETENTION_CHUNK_ROWS = 500;
/** Chunks per table and run: a backlog larger than this is worked off over the following days. */
export const RETENTION_MAX_CHUNKS = 200;

export interface RetentionSummary {
  cutoff: string;
  requests: number;
  attempts: number;
  statusChecks: number;
  verificationEvents: number;
  deadLetters: number;
  resendJobs: number;
  sandboxMessages: number;
  idempotencyKeys: number;
  webhookEvents: number;
  webhookAttempts: number;
  chunks: number;
  /** False when a table still had rows past the cutoff after RETENTION_MAX_CHUNKS chunks. */
  complete: boolean;
}

/**
 * Deletes audit data older than RETENTION_DAYS, oldest first, in chunks of `chunkRows`. A request
 * goes together with its delivery attempts and status checks in one D1 batch, so no attempt ever
 * outlives its request; a webhook event likewise goes with its delivery attempts. Client
 * Idempotency-Keys go once their 24-hour window has passed.
 */
export async function runRetention(
  env: Env,
  config: Config,
  options: { now?: number; chunkRows?: number; maxChunks?: number } = {},
): Promise<RetentionSummary> {
  const now = options.now ?? Date.now();
  const chunkRows = options.chunkRows ?? RETENTION_CHUNK_ROWS;
  const maxChunks = options.maxChunks ?? RETENTION_MAX_CHUNKS;
  const limits = { chunkRows, maxChunks };
  const cutoff = now - config.retention.days * 24 * 60 * 60 * 1000;
  const summary: RetentionSummary = {
    cutoff: new Date(cutoff).toISOString(),
    requests: 0,
    attempts: 0,
    statusChecks: 0,
    verificationEvents: 0,
    deadLetters: 0,
    resendJobs: 0,
    sandboxMessages: 0,
    idempotencyKeys: 0,
    webhookEvents: 0,
    webhookAttempts: 0,
    chunks: 0,
    complete: true,
  };
  const db = env.DB;

  const requestsDone = await inChunks(limits, summary, async () => {
    const deleted = await deleteOldRequests(db, cutoff, chunkRows);
    summary.attempts += deleted.attempts;
    summary.statusChecks += deleted.statusChecks;
    summary.requests += deleted.requests;
    return deleted.requests;
  });

  const simple: Array<[keyof RetentionSummary, StandaloneTable, number]> = [
    ['verificationEvents', 'verification_events', cutoff],
    ['deadLetters', 'dead_letters', cutoff],
    ['sandboxMessages', 'sandbox_messages', cutoff],
    ['idempotencyKeys', 'idempotency_keys', now - IDEMPOTENCY_WINDOW_MS],
  ];
  let othersDone = true;
  for (const [field, table, before] of simple) {
    const done = await inChunks(limits, summary, async () => {
      const deleted = await deleteOldRows(db, table, before, chunkRows);
      (summary[field] as number) += deleted;
      return deleted;
    });
    othersDone &&= done;
  }

  const jobsDone = await inChunks(limits, summary, async () => {
    const deleted = await deleteOldResendJobs(db, cutoff, chunkRows);
    summary.resendJobs += deleted;
    return deleted;
  });

  const webhooksDone = await inChunks(limits, summary, async () => {
    const deleted = await deleteOldWebhookEvents(db, cutoff, chunkRows);
    summary.webhookEvents += deleted.events;
    summary.webhookAttempts += deleted.attempts;
    return deleted.events;
  });

  summary.complete = requestsDone && othersDone && jobsDone && webhooksDone;
  logInfo('retention.done', { ...summary, retentionDays: config.retention.days });
  return summary;
}

/** Runs `deleteChunk` until it deletes less than a full chunk; false if `maxChunks` ran out first. */
async function inChunks(limits: { chunkRows: number; maxChunks: number }, summary: RetentionSummary, deleteChunk: () => Promise<number>) {
  for (let chunk = 0; chunk < limits.maxChunks; chunk += 1) {
    const deleted = await deleteChunk();
    if (deleted > 0) summary.chunks += 1;
    if (deleted < limits.chunkRows) return true;
  }
  return false;
}
