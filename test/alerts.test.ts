import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { NOTICE_GIVE_UP_MS, noticeRetryDelayMs } from '../src/alerts/notices';
import { loadConfig } from '../src/config';
import { markSignalStatement } from '../src/db/alert-signals';
import { providerEventStatement } from '../src/db/provider-events';
import { bucketMs, bucketOf } from '../src/limiter/conversion-window';
import { scopeLedgerFor, stepUpPolicyOf } from '../src/limiter/scope-watch';
import { ALERT_URL, alertEnv, alertReceiver, clearAlertData, failing, incidentRows, runAlertsAt, seedProviderCalls, verifiedNotice } from './support/alerts';

const MINUTE = 60_000;

beforeEach(clearAlertData);

/** Ten calls, three of which sent an SMS: 30% at the default threshold of 80% and 20 calls minimum. */
const failingCalls = (): Array<'sent' | 'retry' | 'failed'> => [...Array(3).fill('sent'), ...Array(15).fill('retry'), 'failed', 'failed'];

describe('delivery_success', () => {
  it('opens once when a provider’s success share falls below the threshold, and clears once when it recovers, each posted signed', async () => {
    const testEnv = alertEnv();
    const posts = alertReceiver();
    const t = Date.now();
    await seedProviderCalls('startmessaging', failingCalls(), t - MINUTE);

    const first = await runAlertsAt(testEnv, t);
    expect(first.changes).toEqual([expect.objectContaining({ rule: 'delivery_success', scope: 'startmessaging', change: 'opened' })]);
    expect(posts).toHaveLength(1);
    const opened = await verifiedNotice(posts[0]!);
    expect(opened).toMatchObject({
      type: 'alert.opened',
      data: { rule: 'delivery_success', scope: 'startmessaging', clearedAt: null, detail: { calls: 20, sent: 3, successRate: 0.15 } },
    });
    expect(opened.id).toBe(`${opened.data.incidentId}_opened`);
    expect(posts[0]!.headers['webhook-id']).toBe(opened.id);

    // Still failing a minute later: the same incident, nothing posted again.
    expect((await runAlertsAt(testEnv, t + MINUTE)).changes).toEqual([]);
    expect(posts).toHaveLength(1);

    // Enough successes since: 83 of 100 calls in the window sent.
    await seedProviderCalls('startmessaging', Array(80).fill('sent'), t + MINUTE);
    const recovered = await runAlertsAt(testEnv, t + 2 * MINUTE);
    expect(recovered.changes).toEqual([expect.objectContaining({ id: opened.data.incidentId, change: 'cleared' })]);
    expect(posts).toHaveLength(2);
    const cleared = await verifiedNotice(posts[1]!);
    expect(cleared).toMatchObject({ id: `${opened.data.incidentId}_cleared`, type: 'alert.cleared', data: { incidentId: opened.data.incidentId } });
    expect(cleared.data.clearedAt).toBe(new Date(t + 2 * MINUTE).toISOString());

    expect((await runAlertsAt(testEnv, t + 3 * MINUTE)).changes).toEqual([]);
    expect(posts).toHaveLength(2);
    const [row] = await incidentRows();
    expect(row).toMatchObject({ opened_notice: 'delivered', cleared_notice: 'delivered', notice_due_at: null, cleared_at: t + 2 * MINUTE });
  });

  it('judges each provider on its own, not below ALERT_SUCCESS_MIN_CALLS, and only calls within the window', async () => {
    const testEnv = alertEnv();
    alertReceiver();
    const t = Date.now();
    await seedProviderCalls('startmessaging', Array(19).fill('retry'), t - MINUTE);
    await seedProviderCalls('sandbox', Array(20).fill('sent'), t - MINUTE);
    // Outside the 300 s window.
    await seedProviderCalls('sandbox', Array(20).fill('failed'), t - 6 * MINUTE);
    expect((await runAlertsAt(testEnv, t)).changes).toEqual([]);

    await seedProviderCalls('startmessaging', ['retry'], t - MINUTE);
    expect((await runAlertsAt(testEnv, t)).changes).toEqual([expect.objectContaining({ scope: 'startmessaging', change: 'opened' })]);
  });
});

describe('the other rules', () => {
  it('circuit_open: nothing while every circuit is closed; opens for a circuit not closed and clears when it closes', async () => {
    const testEnv = alertEnv();
    const posts = alertReceiver();
    const t = Date.now();
    expect((await runAlertsAt(testEnv, t)).changes).toEqual([]);

    try {
      // Written as provider health writes each circuit change; a drain is not a circuit.
      const event = (provider: string, at: number, fromState: string, toState: string) =>
        providerEventStatement(env.DB, { provider, at, kind: 'circuit', fromState, toState, detail: null }).run();
      await providerEventStatement(env.DB, { provider: 'twilio', at: t - 4 * MINUTE, kind: 'drain', fromState: null, toState: 'open', detail: null }).run();
      await event('twilio', t - 3 * MINUTE, 'closed', 'open');
      await event('twilio', t - 2 * MINUTE, 'open', 'closed');
      await event('startmessaging', t - MINUTE, 'closed', 'open');
      expect((await runAlertsAt(testEnv, t)).changes).toEqual([expect.objectContaining({ rule: 'circuit_open', scope: 'startmessaging', change: 'opened' })]);
      expect((await verifiedNotice(posts[0]!)).data.detail).toMatchObject({ state: 'open' });

      await event('startmessaging', t + MINUTE, 'open', 'half_open');
      expect((await runAlertsAt(testEnv, t + MINUTE)).changes).toEqual([]);
      await event('startmessaging', t + 2 * MINUTE, 'half_open', 'closed');
      expect((await runAlertsAt(testEnv, t + 2 * MINUTE)).changes).toEqual([expect.objectContaining({ rule: 'circuit_open', change: 'cleared' })]);
      expect(posts.map((post) => (post.body as { type: string }).type)).toEqual(['alert.opened', 'alert.cleared']);
    } finally {
      await env.DB.prepare('DELETE FROM provider_events').run();
    }
  });

  it('prefix_auto_blocked: one incident per automatically blocked prefix, cleared when its block ends; operator blocks are not alerts', async () => {
    const testEnv = alertEnv();
    alertReceiver();
    const t = Date.now();
    const block = (prefix: string, reason: string, until: number) =>
      env.DB.prepare('INSERT INTO prefix_blocks (prefix, reason, blocked_at, until) VALUES (?1, ?2, ?3, ?4)')
        .bind(prefix, reason, t - MINUTE, until)
        .run();
    await block('+88216', 'low_conversion', t + 10 * MINUTE);
    await block('+88217', 'sequential_numbers', t + 20 * MINUTE);
    await block('+44', 'operator', t + 20 * MINUTE);
    const opened = await runAlertsAt(testEnv, t);
    expect(opened.changes.map((change) => [change.rule, change.scope, change.change]).sort()).toEqual([
      ['prefix_auto_blocked', '+88216', 'opened'],
      ['prefix_auto_blocked', '+88217', 'opened'],
    ]);
    expect((await runAlertsAt(testEnv, t + 10 * MINUTE)).changes).toEqual([expect.objectContaining({ scope: '+88216', change: 'cleared' })]);
    await env.DB.prepare('UPDATE prefix_blocks SET lifted_at = ?1 WHERE prefix = ?2')
      .bind(t + 11 * MINUTE, '+88217')
      .run();
    expect((await runAlertsAt(testEnv, t + 11 * MINUTE)).changes).toEqual([expect.objectContaining({ scope: '+88217', change: 'cleared' })]);
  });

  it('conversion_step_up: opens when the ledger steps a scope up on its conversion, once, and clears when it relaxes', async () => {
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {});
    const vars = { STEP_UP_WINDOW_SECONDS: '600', STEP_UP_GRACE_SECONDS: '60', STEP_UP_MIN_SENDS: '20' };
    const testEnv = alertEnv(vars);
    const posts = alertReceiver();
    const policy = stepUpPolicyOf(loadConfig(testEnv));
    const width = bucketMs(policy.windowSeconds);
    const t0 = bucketOf(Date.now() + 24 * 60 * MINUTE, policy.windowSeconds);
    const scope = 'country:+995';
    const report = (now: number, at: number, sends: number, verified: number) =>
      scopeLedgerFor(env).report({ now, policy, counts: [{ scope, bucket: bucketOf(at, policy.windowSeconds), sends, verified, refused: 0 }] });
    const ofScope = (run: Awaited<ReturnType<typeof runAlertsAt>>) => run.changes.filter((change) => change.scope === scope);

    // 30 sends, 3 verified: once they are settled, the scope steps up, and the rule opens one incident.
    await report(t0 + 1000, t0, 30, 3);
    expect(ofScope(await runAlertsAt(testEnv, t0 + 2000))).toEqual([]);
    const stepped = t0 + width + 61_000;
    expect(ofScope(await runAlertsAt(testEnv, stepped))).toEqual([expect.objectContaining({ rule: 'conversion_step_up', change: 'opened' })]);
    expect(ofScope(await runAlertsAt(testEnv, stepped + MINUTE))).toEqual([]);
    const opened = posts.map((post) => post.body as { type: string; data: { rule: string; scope: string; detail: Record<string, unknown> } });
    expect(opened).toEqual([expect.objectContaining({ type: 'alert.opened', data: expect.objectContaining({ rule: 'conversion_step_up', scope }) })]);
    expect(opened[0]!.data.detail).toMatchObject({ settledSends: 30, settledVerified: 3, mode: 'stepped_up' });

    // Real users verify again and the bad sends leave the window: the ledger relaxes it, the incident clears.
    const later = t0 + 300_000;
    await report(later, later - 120_000, 40, 36);
    const recovered = stepped + policy.windowSeconds * 1000;
    expect(ofScope(await runAlertsAt(testEnv, recovered))).toEqual([expect.objectContaining({ rule: 'conversion_step_up', change: 'cleared' })]);
    quiet.mockRestore();
  });

  it('global_budget_spent: holds while the budget refused a send within ALERT_BUDGET_WINDOW_SECONDS', async () => {
    const testEnv = alertEnv();
    alertReceiver();
    const t = Date.now();
    await markSignalStatement(env.DB, 'global_budget_exhausted', t - MINUTE).run();
    expect((await runAlertsAt(testEnv, t)).changes).toEqual([expect.objectContaining({ rule: 'global_budget_spent', scope: '', change: 'opened' })]);
    expect((await runAlertsAt(testEnv, t + 3 * MINUTE)).changes).toEqual([]);
    expect((await runAlertsAt(testEnv, t + 4 * MINUTE + 1)).changes).toEqual([expect.objectContaining({ rule: 'global_budget_spent', change: 'cleared' })]);
  });

  it('dead_letters: holds while a dead letter arrived within ALERT_DEAD_LETTER_WINDOW_SECONDS', async () => {
    const testEnv = alertEnv({ ALERT_DEAD_LETTER_WINDOW_SECONDS: '120' });
    const posts = alertReceiver();
    const t = Date.now();
    await env.DB.prepare("INSERT INTO dead_letters (message_id, request_id, reason, received_at) VALUES ('m1', NULL, 'retries_exhausted', ?1)").bind(t).run();
    expect((await runAlertsAt(testEnv, t)).changes).toEqual([expect.objectContaining({ rule: 'dead_letters', change: 'opened' })]);
    expect((await verifiedNotice(posts[0]!)).data).toMatchObject({ scope: null, detail: { count: 1, reasons: 'retries_exhausted 1' } });
    expect((await runAlertsAt(testEnv, t + 2 * MINUTE - 1)).changes).toEqual([]);
    expect((await runAlertsAt(testEnv, t + 2 * MINUTE)).changes).toEqual([expect.objectContaining({ rule: 'dead_letters', change: 'cleared' })]);
    expect(posts).toHaveLength(2);
  });

  it('two runs at once open one incident and post it once', async () => {
    const testEnv = alertEnv();
    const posts = alertReceiver();
    const t = Date.now();
    await seedProviderCalls('startmessaging', failingCalls(), t);
    const runs = await Promise.all([runAlertsAt(testEnv, t), runAlertsAt(testEnv, t)]);
    expect(runs.flatMap((run) => run.changes)).toHaveLength(1);
    expect(await incidentRows()).toHaveLength(1);
    expect(posts).toHaveLength(1);
  });
});

describe('notices', () => {
  it('a failing receiver: the notice is retried on a later run (not before its delay), then delivered once; the cleared one follows it', async () => {
    const testEnv = alertEnv();
    let down = true;
    const posts = alertReceiver((call, index) => (down ? failing(call, index) : new Response(null, { status: 204 })));
    const t = Date.now();
    await seedProviderCalls('startmessaging', failingCalls(), t);
    await runAlertsAt(testEnv, t);
    expect(posts).toHaveLength(1);
    // Retried a minute later, then after 2, 4, … minutes, at most an hour apart.
    expect([1, 2, 3, 7, 8].map(noticeRetryDelayMs)).toEqual([MINUTE, 2 * MINUTE, 4 * MINUTE, 60 * MINUTE, 60 * MINUTE]);
    expect((await incidentRows())[0]).toMatchObject({ opened_notice: 'pending', notice_attempts: 1, notice_due_at: t + MINUTE });
    expect((await incidentRows())[0]!.last_notice_error).toMatch(/^http_error/);

    await runAlertsAt(testEnv, t + noticeRetryDelayMs(1) - 1);
    expect(posts).toHaveLength(1);
    await runAlertsAt(testEnv, t + noticeRetryDelayMs(1));
    expect(posts).toHaveLength(2);
    expect((await incidentRows())[0]).toMatchObject({ notice_attempts: 2, notice_due_at: t + 3 * MINUTE });

    // The condition ends while the opened notice still waits: both go, in order, once the receiver is back.
    await env.DB.prepare('DELETE FROM delivery_attempts').run();
    down = false;
    const at = t + noticeRetryDelayMs(1) + noticeRetryDelayMs(2);
    await runAlertsAt(testEnv, at);
    expect(posts.map((post) => post.headers['webhook-id']!.split('_').at(-1))).toEqual(['opened', 'opened', 'opened', 'cleared']);
    expect((await incidentRows())[0]).toMatchObject({ opened_notice: 'delivered', cleared_notice: 'delivered', notice_due_at: null, last_notified_at: at });
    await runAlertsAt(testEnv, at + 10 * MINUTE);
    expect(posts).toHaveLength(4);
  });

  it('gives a notice up a day after its change', async () => {
    const testEnv = alertEnv();
    const posts = alertReceiver(failing);
    const t = Date.now();
    await seedProviderCalls('startmessaging', failingCalls(), t);
    await runAlertsAt(testEnv, t);
    await seedProviderCalls('startmessaging', failingCalls(), t + NOTICE_GIVE_UP_MS);
    await runAlertsAt(testEnv, t + NOTICE_GIVE_UP_MS);
    expect(posts).toHaveLength(2);
    expect((await incidentRows())[0]).toMatchObject({ opened_notice: 'failed', notice_due_at: null, cleared_at: null });
  });

  it('a receiver that never answers costs WEBHOOK_TIMEOUT_MS: the incident is recorded and the notice retried', async () => {
    const testEnv = alertEnv({ WEBHOOK_TIMEOUT_MS: '100' });
    const posts = alertReceiver(() => new Promise<Response>(() => {}));
    const t = Date.now();
    await seedProviderCalls('startmessaging', failingCalls(), t);
    const run = await runAlertsAt(testEnv, t);
    expect(run.changes).toHaveLength(1);
    expect(posts).toHaveLength(1);
    expect((await incidentRows())[0]).toMatchObject({ opened_notice: 'pending', last_notice_error: 'timeout: no answer within 100 ms' });
  });

  it('without ALERT_WEBHOOK_URL incidents are recorded and nothing is posted, then or later', async () => {
    const t = Date.now();
    await seedProviderCalls('startmessaging', failingCalls(), t);
    await runAlertsAt(env, t);
    expect((await incidentRows())[0]).toMatchObject({ rule: 'delivery_success', opened_notice: 'skipped', notice_due_at: null });
    // Set afterwards: the end of an incident the receiver never heard of is not posted either.
    await env.DB.prepare('DELETE FROM delivery_attempts').run();
    await runAlertsAt(alertEnv(), t + MINUTE);
    expect((await incidentRows())[0]).toMatchObject({ cleared_notice: 'skipped', notice_due_at: null });
  });

  it.each([
    ['http://ops.test/alerts', 'production', /^url_refused: .*https/],
    ['https://10.1.2.3/alerts', 'production', /^url_refused: .*private network/],
    ['https://127.0.0.1/alerts', 'production', /^url_refused: .*loopback/],
    ['https://[::1]/alerts', 'test', /^url_refused: .*loopback/],
    ['https://ops:secret@ops.test/alerts', 'test', /^url_refused: .*password/],
    ['https://alerts.internal/hook', 'production', /^url_refused: .*local network/],
  ])('the URL rules of app webhooks: %s in %s is never posted to', async (url, environment, error) => {
    const testEnv = alertEnv({ ALERT_WEBHOOK_URL: url, ENVIRONMENT: environment, PROVIDER_MODE: 'startmessaging', SM_API_KEY: 'k' });
    const t = Date.now();
    await seedProviderCalls('startmessaging', failingCalls(), t);
    await runAlertsAt(testEnv, t);
    // The outbound guard fails the test on any post.
    expect((await incidentRows())[0]).toMatchObject({ opened_notice: 'pending', notice_attempts: 1 });
    expect((await incidentRows())[0]!.last_notice_error).toMatch(error);
  });

  it('a receiver at ALERT_WEBHOOK_URL signs with the secret of ALERT_WEBHOOK_SECRET_VERSION', async () => {
    const testEnv = alertEnv({ ALERT_WEBHOOK_SECRET_VERSION: '2' });
    const posts = alertReceiver();
    const t = Date.now();
    await seedProviderCalls('startmessaging', failingCalls(), t);
    await runAlertsAt(testEnv, t);
    expect(posts[0]!.url).toBe(ALERT_URL);
    await expect(verifiedNotice(posts[0]!, 1)).rejects.toThrow();
    expect((await verifiedNotice(posts[0]!, 2)).type).toBe('alert.opened');
  });
});
