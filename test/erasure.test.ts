import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { sendFingerprint } from '../src/db/idempotency-keys';
import { recordPhoneLock } from '../src/db/phone-locks';
import { phoneHash } from '../src/db/session-revocations';
import { numberKeyOf, prefixGuardFor, rateLimiterFor, verifyFailureKey } from '../src/limiter/limiter-client';
import type { PrefixGuard } from '../src/limiter/prefix-guard';
import type { RateLimiter } from '../src/limiter/rate-limiter';
import { phonePrefix } from '../src/phone';
import { adminJson } from './support/admin';
import { makeApp, TEST_APP, withKey } from './support/apps';
import { recordingQueue } from './support/faults';
import { startMessagingEnv, uniquePhone } from './support/fixtures';
import { deliverSendJobs } from './support/queue';
import { fetchWithEnv } from './support/worker';

/** Sends go to a queue the test holds, so no job runs unless the test delivers it. */
function held(vars: Record<string, string> = {}) {
  const { queue, sent } = recordingQueue();
  return { testEnv: { ...env, SEND_QUEUE: queue, PHONE_LIMITS: '100/60', PHONE_COOLDOWN_SECONDS: '0', ...vars } as Env, sent };
}

async function call(testEnv: Env, path: string, key: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetchWithEnv(
    new Request(`https://otp.test${path}`, {
      method: 'POST',
      headers: withKey({ 'Content-Type': 'application/json', ...headers }, key),
      body: JSON.stringify(body),
    }),
    testEnv,
  );
  return { status: response.status, body: await response.json<Record<string, unknown>>() };
}

async function createFor(testEnv: Env, phoneNumber: string, key: string = TEST_APP.secretKey) {
  const created = await call(testEnv, '/v1/otp', key, { phoneNumber }, { 'Idempotency-Key': crypto.randomUUID() });
  expect(created.status).toBe(202);
  return created.body.requestId as string;
}

interface Erasure {
  erasureId: string;
  actor: string;
  appId: string | null;
  rows: Record<string, number>;
  total: number;
}

const eraseAsOperator = (body: Record<string, unknown>) =>
  adminJson<Erasure>('/v1/admin/erasures', { method: 'POST', body: JSON.stringify(body), headers: { 'X-Operator': 'dpo@example.com' } });

/** Every form the number may be stored in, and the ids of its requests (and their events' ids). */
async function storedForms(phoneNumber: string, requestIds: string[]): Promise<string[]> {
  return [
    phoneNumber,
    phoneNumber.slice(1),
    phoneNumber.slice(-10),
    await numberKeyOf(phoneNumber),
    await phoneHash(phoneNumber),
    await sendFingerprint(phoneNumber),
    ...requestIds.map((id) => id.slice(4)),
  ];
}

/** Every table of a SQLite database (D1's or an object's), found by enumeration, so a table added later is searched too. */
function tablesOf(rows: Array<{ name: string }>): string[] {
  return rows.map((row) => row.name).filter((name) => !name.startsWith('_cf_') && !name.startsWith('sqlite_'));
}

/** The D1 tables holding any of `forms`, each with how many of its rows do. */
async function d1TablesHolding(forms: string[]): Promise<Record<string, number>> {
  const { results } = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all<{ name: string }>();
  const found: Record<string, number> = {};
  for (const table of tablesOf(results)) {
    const rows = (await env.DB.prepare(`SELECT * FROM "${table}"`).all()).results;
    const holding = rows.filter((row) => forms.some((form) => JSON.stringify(row).includes(form))).length;
    if (holding > 0) found[table] = holding;
  }
  return found;
}

/** The same search in a limiter object: its SQLite tables and its key-value storage. */
function objectTablesHolding(stub: DurableObjectStub<PrefixGuard> | DurableObjectStub<RateLimiter>, forms: string[] | 'any') {
  return runInDurableObject(stub as DurableObjectStub<PrefixGuard>, async (_instance, state) => {
    const found: Record<string, number> = {};
    const tables = tablesOf(state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").toArray());
    for (const table of tables) {
      const rows = state.storage.sql.exec(`SELECT * FROM "${table}"`).toArray();
      const holding = rows.filter((row) => forms === 'any' || forms.some((form) => JSON.stringify(row).includes(form))).length;
      if (holding > 0) found[table] = holding;
    }
    const kv = [...(await state.storage.list()).entries()].filter(
      ([key, value]) => forms === 'any' || forms.some((form) => JSON.stringify([key, value]).includes(form)),
    );
    if (kv.length > 0) found.kv = kv.length;
    return found;
  });
}

/** Rows the flows below do not reach cheaply, written as their writers would. */
async function seedRowsAbout(requestId: string, phoneNumber: string) {
  const now = Date.now();
  const eventId = `evt_${requestId.slice(4)}_sent`;
  await env.DB.batch([
    env.DB.prepare("INSERT INTO status_checks (request_id, check_number, checked_at, duration_ms, outcome) VALUES (?1, 1, ?2, 40, 'pending')").bind(
      requestId,
      now,
    ),
    env.DB.prepare("INSERT INTO dead_letters (message_id, request_id, reason, received_at) VALUES ('m-1', ?1, 'late', ?2)").bind(requestId, now),
    env.DB.prepare(
      `INSERT INTO webhook_events (id, app_id, request_id, type, occurred_at, state, next_attempt_at, retry_until)
       VALUES (?1, ?2, ?3, 'otp.sent', ?4, 'failed', ?4, ?4)`,
    ).bind(eventId, TEST_APP.id, requestId, now),
    env.DB.prepare("INSERT INTO webhook_attempts (event_id, attempt_number, started_at, duration_ms, outcome) VALUES (?1, 1, ?2, 30, 'failed')").bind(
      eventId,
      now,
    ),
    env.DB.prepare(
      "INSERT INTO resend_jobs (id, created_at, updated_at, filter_json, since, until, matched) VALUES ('rsd_erasuretest00000000000', ?1, ?1, ?2, 0, ?1, 1)",
    ).bind(now, JSON.stringify({ statuses: ['failed'], since: 0, until: now, phoneNumbers: [phoneNumber, '+919800000001'] })),
  ]);
  await recordPhoneLock(env.DB, { phoneNumber, failures: 10, lockedUntil: now + 3_600_000 }, now);
}

describe('erasing one person’s data', () => {
  it('leaves no table and no limiter object holding the number in any form, and a record without it', async () => {
    const phone = uniquePhone();
    const { testEnv } = held();
    const first = await createFor(testEnv, phone);
    const second = await createFor(testEnv, phone);
    // Sent by the sandbox: a delivery attempt and a sandbox message (the first code was superseded by the second, so not sent).
    await deliverSendJobs(testEnv, [first, second]);
    // A wrong guess: a verification event, and the phone's wrong-guess count in its RateLimiter.
    expect((await call(testEnv, `/v1/otp/${second}/verify`, TEST_APP.secretKey, { code: '000000' })).body).toMatchObject({ error: { code: 'invalid_code' } });
    expect((await adminJson('/v1/admin/sessions/revoke', { method: 'POST', body: JSON.stringify({ phoneNumber: phone }) })).status).toBe(200);
    await seedRowsAbout(first, phone);

    const forms = await storedForms(phone, [first, second]);
    const guard = prefixGuardFor(env, phonePrefix(phone));
    const guesses = rateLimiterFor(env, verifyFailureKey(phone));
    // The search finds what is there: every table that holds the number or a row about its requests.
    expect(Object.keys(await d1TablesHolding(forms)).sort()).toEqual(
      [
        'dead_letters',
        'delivery_attempts',
        'idempotency_keys',
        'otp_requests',
        'phone_locks',
        'phone_session_revocations',
        'resend_jobs',
        'sandbox_messages',
        'status_checks',
        'verification_events',
        'webhook_attempts',
        'webhook_events',
      ].sort(),
    );
    // One send log: each send is one row the prefix and the phone both count.
    expect(await objectTablesHolding(guard, forms)).toEqual({ sends: 2 });
    expect(await objectTablesHolding(guesses, 'any')).toMatchObject({ events: 1 });

    const erased = await eraseAsOperator({ phoneNumber: phone });
    expect(erased.status).toBe(200);
    expect(erased.body).toMatchObject({ actor: 'dpo@example.com', appId: null });
    expect(erased.body.rows).toMatchObject({
      otp_requests: 2,
      delivery_attempts: 1,
      sandbox_messages: 1,
      idempotency_keys: 2,
      verification_events: 1,
      status_checks: 1,
      dead_letters: 1,
      webhook_events: 1,
      webhook_attempts: 1,
      phone_locks: 1,
      phone_session_revocations: 1,
      resend_jobs: 1,
      'limiter.sends': 2,
      'limiter.phone_sends': 2,
      'limiter.verify_failures': 1,
    });

    expect(await d1TablesHolding(forms)).toEqual({});
    expect(await objectTablesHolding(guard, forms)).toEqual({});
    expect(await objectTablesHolding(guesses, 'any')).toEqual({});
    // The resend keeps its other number; the erased one is masked, so it matches nothing.
    const { filter_json } = (await env.DB.prepare("SELECT filter_json FROM resend_jobs WHERE id = 'rsd_erasuretest00000000000'").first<{
      filter_json: string;
    }>())!;
    expect(JSON.parse(filter_json).phoneNumbers).toEqual([`+${phone.slice(1, 3)}******${phone.slice(-4)}`, '+919800000001']);
    // The record: who, when, rows per table; searched above with every other table.
    const listed = await adminJson<{ erasures: Erasure[] }>('/v1/admin/erasures');
    expect(listed.body.erasures.find((entry) => entry.erasureId === erased.body.erasureId)).toMatchObject({
      actor: 'dpo@example.com',
      total: erased.body.total,
    });
  });

  it('is idempotent: a second erasure finds nothing, answers 200 with zero counts and is recorded too', async () => {
    const phone = uniquePhone();
    await createFor(held().testEnv, phone);
    const first = await eraseAsOperator({ phoneNumber: phone });
    expect(first.body.total).toBeGreaterThan(0);
    const second = await eraseAsOperator({ phoneNumber: phone });
    expect(second.status).toBe(200);
    expect(second.body.total).toBe(0);
    expect(Object.values(second.body.rows).every((count) => count === 0)).toBe(true);
    expect(second.body.erasureId).not.toBe(first.body.erasureId);
    const { n } = (await env.DB.prepare('SELECT COUNT(*) AS n FROM erasures WHERE id IN (?1, ?2)')
      .bind(first.body.erasureId, second.body.erasureId)
      .first<{ n: number }>())!;
    expect(n).toBe(2);
  });

  it('a queued send of an erased request is dropped without reaching the provider', async () => {
    const phone = uniquePhone();
    const { testEnv, sent } = held();
    const requestId = await createFor(testEnv, phone);
    expect(sent).toHaveLength(1);
    await eraseAsOperator({ phoneNumber: phone });
    // The real provider client, with no route intercepted: a call would fail the test.
    const deadLetters = recordingQueue();
    const { ids, result } = await deliverSendJobs({ ...startMessagingEnv(), DEAD_LETTER_QUEUE: deadLetters.queue } as Env, [requestId]);
    expect(result.explicitAcks).toEqual(ids);
    expect(result.retryMessages).toEqual([]);
    // Dropped quietly: an erasure is no fault for the dead-letter queue to report.
    expect(deadLetters.sent).toEqual([]);
    expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM delivery_attempts WHERE request_id = ?1').bind(requestId).first('n')).toBe(0);
  });

  it('an app with its secret key erases only its own requests; other apps’ and the phone’s lock stay', async () => {
    const phone = uniquePhone();
    const other = await makeApp();
    const { testEnv } = held();
    const mine = await createFor(testEnv, phone);
    const theirs = await createFor(testEnv, phone, other.secretKey);
    await recordPhoneLock(env.DB, { phoneNumber: phone, failures: 10, lockedUntil: Date.now() + 60_000 }, Date.now());

    const publishable = await call(testEnv, '/v1/erasures', TEST_APP.publishableKey, { phoneNumber: phone }, { Origin: TEST_APP.origin });
    expect(publishable.body).toMatchObject({ error: { code: 'key_not_allowed' } });
    const erased = await call(testEnv, '/v1/erasures', TEST_APP.secretKey, { phoneNumber: phone });
    expect(erased.status).toBe(200);
    expect(erased.body).toMatchObject({ appId: TEST_APP.id, actor: 'key_testsuitesecret0', rows: { otp_requests: 1, 'limiter.phone_sends': 1 } });
    expect((erased.body.rows as Record<string, number>).phone_locks).toBe(0);

    const left = await env.DB.prepare('SELECT id FROM otp_requests WHERE phone_number = ?1').bind(phone).all<{ id: string }>();
    expect(left.results.map((row) => row.id)).toEqual([theirs]);
    expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM phone_locks WHERE phone_number = ?1').bind(phone).first('n')).toBe(1);
    expect(await objectTablesHolding(prefixGuardFor(env, phonePrefix(phone)), [mine.slice(4)])).toEqual({});
    expect(await objectTablesHolding(prefixGuardFor(env, phonePrefix(phone)), [theirs.slice(4)])).toEqual({ sends: 1 });
  });

  it('refuses a malformed number and a missing admin token', async () => {
    expect((await eraseAsOperator({ phoneNumber: '12345' })).body).toMatchObject({ error: { code: 'invalid_phone_number' } });
    const anonymous = await fetchWithEnv(
      new Request('https://otp.test/v1/admin/erasures', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"phoneNumber":"+919876543210"}',
      }),
      env,
    );
    expect(anonymous.status).toBe(401);
  });
});
