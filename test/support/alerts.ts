import { env } from 'cloudflare:test';
import { Webhook } from 'standardwebhooks';
import type { CircuitSource } from '../../src/alerts/rules';
import { runAlerts } from '../../src/alerts/run-alerts';
import { loadConfig } from '../../src/config';
import type { IncidentRow } from '../../src/db/alert-incidents';
import { newAttemptIdSql } from '../../src/db/delivery-attempts';
import { seedRequest } from './fixtures';
import { interceptOrigin, json, type RecordedCall, type Responder } from './outbound';
import { TEST_SECRETS } from './secrets';

/** The operators' receiver, as the tests intercept it. */
export const ALERT_RECEIVER = 'https://ops.test';
export const ALERT_ROUTE = 'POST /alerts';
export const ALERT_URL = `${ALERT_RECEIVER}/alerts`;

/** The test env with the alert receiver set (and any other vars). */
export function alertEnv(overrides: Record<string, string> = {}): Env {
  return { ...env, ALERT_WEBHOOK_URL: ALERT_URL, ...overrides } as Env;
}

/** Intercepts the receiver; answers 204 unless told otherwise. Returns the calls it gets. */
export function alertReceiver(respond: Responder = () => new Response(null, { status: 204 })): RecordedCall[] {
  return interceptOrigin(ALERT_RECEIVER, { [ALERT_ROUTE]: respond });
}

export const failing: Responder = () => json(503, { error: 'down' });

/** One cron run's alert work with the clock at `now`. */
export function runAlertsAt(testEnv: Env, now: number, circuits?: CircuitSource) {
  return runAlerts(testEnv, loadConfig(testEnv), { now: () => now }, circuits);
}

export async function incidentRows(): Promise<IncidentRow[]> {
  const { results } = await env.DB.prepare('SELECT * FROM alert_incidents ORDER BY opened_at, id').all<IncidentRow>();
  return results;
}

/** Starts each test from no incidents and none of the data the rules read. */
export async function clearAlertData(): Promise<void> {
  await env.DB.batch(
    ['alert_incidents', 'alert_signals', 'delivery_attempts', 'dead_letters', 'prefix_blocks', 'provider_events'].map((table) =>
      env.DB.prepare(`DELETE FROM ${table}`),
    ),
  );
}

/** Provider calls recorded `at`, one request each, with the given outcomes. */
export async function seedProviderCalls(provider: string, outcomes: Array<'sent' | 'retry' | 'failed'>, at: number): Promise<void> {
  for (const outcome of outcomes) {
    const { id } = await seedRequest();
    await env.DB.prepare(
      `INSERT INTO delivery_attempts (id, request_id, attempt_number, started_at, finished_at, duration_ms, outcome, http_status, error_code, provider)
       VALUES (${newAttemptIdSql('?2')}, ?1, 1, ?2, ?2 + 120, 120, ?3, ?4, ?5, ?6)`,
    )
      .bind(id, at, outcome, outcome === 'sent' ? 201 : 503, outcome === 'sent' ? null : 'provider_unavailable', provider)
      .run();
  }
}

/**
 * The receiver's secret for ALERT_WEBHOOK_SECRET_VERSION `version`, derived here as
 * docs/operators.md#alerts documents it (not with the Worker's code): `whsec_` and the base64 of
 * HMAC-SHA256 under WEBHOOK_SECRET_KEY of "otp-dispatcher alert signing secret\n{version}".
 */
export async function alertSecret(version = 1): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(TEST_SECRETS.WEBHOOK_SECRET_KEY), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`otp-dispatcher alert signing secret\n${version}`)));
  return `whsec_${btoa(String.fromCharCode(...mac))}`;
}

/** Checks a post's Standard Webhooks signature with the `standardwebhooks` package; answers its payload. */
export async function verifiedNotice(call: RecordedCall, version = 1) {
  return new Webhook(await alertSecret(version)).verify(call.rawBody, call.headers) as {
    id: string;
    type: 'alert.opened' | 'alert.cleared';
    timestamp: string;
    data: {
      incidentId: string;
      rule: string;
      scope: string | null;
      openedAt: string;
      clearedAt: string | null;
      summary: string;
      detail: Record<string, unknown>;
    };
  };
}
