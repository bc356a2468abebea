import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../src/config';
import { RETENTION_CRON, runRetention } from '../src/cron/retention';
import worker from '../src/index';
import { insertAttemptRow, insertRequestRow } from './support/audit-seed';
import { uniquePhone } from './support/fixtures';

const DAY = 86_400_000;
const count = async (sql: string, ...params: unknown[]) =>
  (await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>())!.n;

async function seedAged(ageDays: number, attempts: number) {
  const createdAt = Date.now() - ageDays * DAY;
  const request = await insertRequestRow({ phoneNumber: uniquePhone(), createdAt, status: 'failed' });
  for (let n = 1; n <= attempts; n += 1)
    await insertAttemptRow({ requestId: request.id, attemptNumber: n, startedAt: createdAt + n, durationMs: 5, outcome: 'retry' });
  await env.DB.prepare(`INSERT INTO status_checks (request_id, check_number, checked_at, duration_ms, outcome) VALUES (?1, 1, ?2, 3, 'pending')`)
    .bind(request.id, createdAt + 100)
    .run();
  await env.DB.prepare(`INSERT INTO verification_events (request_id, phone_prefix, outcome, at) VALUES (?1, '+9198', 'invalid_code', ?2)`)
    .bind(request.id, createdAt + 200)
    .run();
  return request;
}

describe('retention (daily cron)', () => {
  it('deletes requests older than RETENTION_DAYS with their attempts and checks, in bounded chunks, and keeps the rest', async () => {
    const config = loadConfig({ ...env, RETENTION_DAYS: '30' } as Env);
    const old = [];
    for (let i = 0; i < 7; i += 1) old.push(await seedAged(31 + i, 2));
    const young = await seedAged(29, 3);
    await env.DB.prepare(`INSERT INTO dead_letters (message_id, request_id, reason, received_at) VALUES ('m-old', NULL, 'x', ?1), ('m-new', NULL, 'x', ?2)`)
      .bind(Date.now() - 40 * DAY, Date.now())
      .run();
    await env.DB.prepare(`INSERT INTO idempotency_keys (key, fingerprint, request_id, created_at) VALUES ('k-old', 'f', 'r', ?1), ('k-new', 'f', 'r', ?2)`)
      .bind(Date.now() - 2 * DAY, Date.now())
      .run();

    const logs: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((line) => void logs.push(String(line)));
    const summary = await runRetention(env, config, { chunkRows: 3 });
    spy.mockRestore();

    expect(summary).toMatchObject({
      requests: 7,
      attempts: 14,
      statusChecks: 7,
      verificationEvents: 7,
      deadLetters: 1,
      idempotencyKeys: 1,
      complete: true,
    });
    // 7 requests in chunks of 3: 3 + 3 + 1; then one chunk each for the events (3+3+1), the dead letter and the key.
    expect(summary.chunks).toBe(3 + 3 + 1 + 1);
    for (const request of old) expect(await count('SELECT COUNT(*) AS n FROM otp_requests WHERE id = ?', request.id)).toBe(0);
    expect(await count('SELECT COUNT(*) AS n FROM delivery_attempts WHERE request_id = ?', young.id)).toBe(3);
    expect(await count('SELECT COUNT(*) AS n FROM status_checks WHERE request_id = ?', young.id)).toBe(1);
    expect(await count('SELECT COUNT(*) AS n FROM otp_requests WHERE id = ?', young.id)).toBe(1);
    expect(await count("SELECT COUNT(*) AS n FROM dead_letters WHERE message_id = 'm-new'")).toBe(1);
    expect(await count("SELECT COUNT(*) AS n FROM idempotency_keys WHERE key = 'k-new'")).toBe(1);
    // One summary line, with counts and no phone numbers.
    const line = logs.find((entry) => entry.includes('retention.done'))!;
    expect(JSON.parse(line)).toMatchObject({ event: 'retention.done', requests: 7, attempts: 14, retentionDays: 30 });
    expect(line).not.toMatch(/\+\d{6,}/);
  });

  it('stops after maxChunks and says the run was incomplete; the next run finishes', async () => {
    const config = loadConfig(env);
    for (let i = 0; i < 5; i += 1) await seedAged(60, 0);
    const first = await runRetention(env, config, { chunkRows: 2, maxChunks: 1 });
    expect(first).toMatchObject({ requests: 2, complete: false });
    const second = await runRetention(env, config, { chunkRows: 2 });
    expect(second).toMatchObject({ requests: 3, complete: true });
  });

  it('also drops finished bulk resends past the cutoff, never unfinished ones', async () => {
    const old = Date.now() - 45 * DAY;
    await env.DB.prepare(
      `INSERT INTO resend_jobs (id, created_at, updated_at, finished_at, filter_json, since, until, matched)
       VALUES ('rsd_finished0000000000000', ?1, ?1, ?1, '{}', 0, 1, 0), ('rsd_running00000000000000', ?1, ?1, NULL, '{}', 0, 1, 0)`,
    )
      .bind(old)
      .run();
    await env.DB.prepare(
      `INSERT INTO resend_chunks (resend_id, chunk_number, processed_at, matched, enqueued) VALUES ('rsd_finished0000000000000', 0, ?1, 0, 0)`,
    )
      .bind(old)
      .run();
    const summary = await runRetention(env, loadConfig(env));
    expect(summary.resendJobs).toBe(1);
    expect(await count('SELECT COUNT(*) AS n FROM resend_jobs WHERE id = ?', 'rsd_running00000000000000')).toBe(1);
    expect(await count('SELECT COUNT(*) AS n FROM resend_chunks')).toBe(0);
  });

  it('deletes webhook events that happened before the cutoff with their delivery attempts, in chunks', async () => {
    const insertEvent = async (id: string, occurredAt: number, attempts: number) => {
      await env.DB.prepare(
        `INSERT INTO webhook_events (id, app_id, request_id, type, occurred_at, state, next_attempt_at, retry_until, attempts)
         VALUES (?1, 'app_retention', 'otp_retention', 'otp.sent', ?2, 'delivered', ?2, ?2, ?3)`,
      )
        .bind(id, occurredAt, attempts)
        .run();
      for (let n = 1; n <= attempts; n += 1)
        await env.DB.prepare(`INSERT INTO webhook_attempts (event_id, attempt_number, started_at, duration_ms, outcome) VALUES (?1, ?2, ?3, 4, 'retry')`)
          .bind(id, n, occurredAt + n)
          .run();
    };
    for (let i = 0; i < 3; i += 1) await insertEvent(`evt_retentionold000000000${i}_sent`, Date.now() - (31 + i) * DAY, 2);
    await insertEvent('evt_retentionyoung00000000_sent', Date.now() - 29 * DAY, 1);
    const summary = await runRetention(env, loadConfig(env), { chunkRows: 2 });
    expect(summary).toMatchObject({ webhookEvents: 3, webhookAttempts: 6, complete: true });
    expect(await count("SELECT COUNT(*) AS n FROM webhook_events WHERE app_id = 'app_retention'")).toBe(1);
    expect(await count("SELECT COUNT(*) AS n FROM webhook_attempts WHERE event_id = 'evt_retentionyoung00000000_sent'")).toBe(1);
    expect(await count("SELECT COUNT(*) AS n FROM webhook_attempts WHERE event_id LIKE 'evt_retentionold%'")).toBe(0);
  });

  it('runs from the scheduled handler on its own cron, and only there', async () => {
    const request = await seedAged(90, 1);
    const everyMinute = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '* * * * *' }), env, everyMinute);
    await waitOnExecutionContext(everyMinute);
    expect(await count('SELECT COUNT(*) AS n FROM otp_requests WHERE id = ?', request.id)).toBe(1);

    const daily = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: RETENTION_CRON }), env, daily);
    await waitOnExecutionContext(daily);
    expect(await count('SELECT COUNT(*) AS n FROM otp_requests WHERE id = ?', request.id)).toBe(0);
  });

  it('RETENTION_DAYS is validated', () => {
    expect(loadConfig(env).retention.days).toBe(30);
    expect(() => loadConfig({ ...env, RETENTION_DAYS: '0' } as Env)).toThrow(/RETENTION_DAYS must be an integer from 1 to 3650/);
  });
});
