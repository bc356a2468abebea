import { env, runInDurableObject, SELF } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { deriveCode } from '../src/codes';
import { prefixGuardFor } from '../src/limiter/limiter-client';
import type { PrefixGuard } from '../src/limiter/prefix-guard';
import { SANDBOX_MAGIC_NUMBERS } from '../src/providers/sandbox';
import { withKey } from './support/apps';
import { recordingQueue } from './support/faults';
import { TEST_OTP_SECRET } from './support/fixtures';
import { fetchWithEnv } from './support/worker';

const ADMIN = { Authorization: 'Bearer test-admin-token' };

let prefixCounter = 20;
/** Numbers under a destination prefix (its first five digits) no other test uses: UK mobile ranges +44 710 to +44 759. */
const freshPrefix = () => `+447${++prefixCounter}`;
const numberIn = (prefix: string, n: number) => `${prefix}${String(n).padStart(7, '0')}`;

function call(path: string, init: RequestInit, vars: Record<string, string> = {}) {
  return fetchWithEnv(new Request(`https://otp.test${path}`, init), { ...env, ADMIN_TOKEN: 'test-admin-token', ...vars } as Env);
}

const send = (phoneNumber: string, vars: Record<string, string> = {}) =>
  call('/v1/otp', { method: 'POST', headers: withKey({ 'Content-Type': 'application/json' }), body: JSON.stringify({ phoneNumber }) }, vars);

async function verifyCorrectly(requestId: string) {
  const code = await deriveCode(TEST_OTP_SECRET, requestId, 6);
  const response = await SELF.fetch(`https://otp.test/v1/otp/${requestId}/verify`, {
    method: 'POST',
    headers: withKey({ 'Content-Type': 'application/json' }),
    body: JSON.stringify({ code }),
  });
  expect(response.status).toBe(200);
}

/** Makes every send recorded for the prefix look `seconds` older. */
async function age(prefix: string, seconds: number) {
  await runInDurableObject(prefixGuardFor(env, prefix), (_i: PrefixGuard, state) => {
    state.storage.sql.exec('UPDATE sends SET at = at - ?', seconds * 1000);
  });
}

const quiet = () => vi.spyOn(console, 'error').mockImplementation(() => {});

describe('automatic pumping defence', () => {
  const pumping = { PUMPING_MIN_SENDS: '10', PUMPING_GRACE_SECONDS: '120', PUMPING_MIN_CONVERSION: '0.3', SEQUENTIAL_BURST_NUMBERS: '1000' };

  it('blocks a prefix whose settled sends convert below the threshold, logs it loudly and lists it', async () => {
    const errors = quiet();
    const prefix = freshPrefix();
    for (let i = 0; i < 10; i++) expect((await send(numberIn(prefix, i * 7919), pumping)).status).toBe(202);
    await age(prefix, 200);
    const blocked = await send(numberIn(prefix, 999_001), pumping);
    expect(blocked.status).toBe(429);
    expect((await blocked.json<{ error: { code: string } }>()).error.code).toBe('prefix_blocked');
    expect(Number(blocked.headers.get('Retry-After'))).toBeGreaterThan(40_000);
    const logged = errors.mock.calls.flat().join('\n');
    errors.mockRestore();
    expect(logged).toContain('"event":"prefix.blocked"');
    expect(logged).toContain('low_conversion');

    const list = await call('/v1/admin/prefix-blocks', { headers: ADMIN });
    const { blocks } = await list.json<{ blocks: Array<{ prefix: string; reason: string; note: string }> }>();
    expect(blocks).toContainEqual(expect.objectContaining({ prefix, reason: 'low_conversion', note: '0% of 10 sends verified' }));
  });

  it('leaves a prefix whose users verify alone', async () => {
    const prefix = freshPrefix();
    for (let i = 0; i < 10; i++) {
      const response = await send(numberIn(prefix, i * 7919), pumping);
      const { requestId } = await response.json<{ requestId: string }>();
      if (i % 2 === 0) await verifyCorrectly(requestId);
    }
    await age(prefix, 200);
    expect((await send(numberIn(prefix, 999_002), pumping)).status).toBe(202);
  });

  it('does not judge sends still inside the grace period', async () => {
    const prefix = freshPrefix();
    for (let i = 0; i < 12; i++) expect((await send(numberIn(prefix, i * 7919), pumping)).status).toBe(202);
  });

  it('blocks a burst of consecutive numbers', async () => {
    const errors = quiet();
    const prefix = freshPrefix();
    const vars = { SEQUENTIAL_BURST_NUMBERS: '5', SEQUENTIAL_BURST_SECONDS: '600' };
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push((await send(numberIn(prefix, 5000 + i), vars)).status);
    errors.mockRestore();
    expect(statuses).toEqual([202, 202, 202, 202, 429, 429, 429, 429]);
    expect((await prefixGuardFor(env, prefix).status()).block).toMatchObject({ reason: 'sequential_numbers' });
  });
});

describe('operator blocks', () => {
  it('pre-sets a block, which refuses sends, and lifts it, which admits them again', async () => {
    const errors = quiet();
    const prefix = freshPrefix();
    const created = await call('/v1/admin/prefix-blocks', {
      method: 'POST',
      headers: { ...ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify({ prefix, durationSeconds: 3600, note: 'premium-rate range' }),
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ prefix, reason: 'operator', note: 'premium-rate range' });
    expect((await send(numberIn(prefix, 1))).status).toBe(429);

    const lifted = await call(`/v1/admin/prefix-blocks/${encodeURIComponent(prefix)}`, { method: 'DELETE', headers: ADMIN });
    expect(lifted.status).toBe(200);
    errors.mockRestore();
    expect((await send(numberIn(prefix, 1))).status).toBe(202);
    const { blocks } = await (await call('/v1/admin/prefix-blocks', { headers: ADMIN })).json<{ blocks: Array<{ prefix: string }> }>();
    expect(blocks.map((block) => block.prefix)).not.toContain(prefix);
  });

  it('lifting an automatic block starts the signals afresh', async () => {
    const errors = quiet();
    const prefix = freshPrefix();
    const vars = { SEQUENTIAL_BURST_NUMBERS: '3' };
    for (let i = 0; i < 3; i++) await send(numberIn(prefix, 100 + i), vars);
    expect((await send(numberIn(prefix, 200), vars)).status).toBe(429);
    expect((await call(`/v1/admin/prefix-blocks/${encodeURIComponent(prefix)}`, { method: 'DELETE', headers: ADMIN })).status).toBe(200);
    errors.mockRestore();
    expect((await send(numberIn(prefix, 300), vars)).status).toBe(202);
  });

  /** The number with the prefix's last digit changed: just outside the block. */
  const outside = (prefix: string, number: string) => `${prefix.slice(0, -1)}${(Number(prefix.at(-1)) + 1) % 10}${number.slice(prefix.length)}`;

  it.each([
    ['a country calling code', '+254', '+254712123456'],
    ['a range shorter than the limiter’s prefix', '+4479', '+447912345678'],
    ['the limiter’s 5-digit prefix', '+44792', '+447923456789'],
    ['a range longer than it', '+4478123', '+447812345678'],
    ['one number', '+447400900456', '+447400900456'],
  ])('a block of %s (%s) refuses every number that starts with it, and no other', async (_name, prefix, covered) => {
    const errors = quiet();
    const created = await call('/v1/admin/prefix-blocks', {
      method: 'POST',
      headers: { ...ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify({ prefix, durationSeconds: 3600 }),
    });
    expect(created.status).toBe(201);
    const refused = await send(covered);
    expect(refused.status).toBe(429);
    expect((await refused.json<{ error: { code: string } }>()).error.code).toBe('prefix_blocked');
    expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThan(3500);
    expect((await send(outside(prefix, covered))).status).toBe(202);

    expect((await call(`/v1/admin/prefix-blocks/${encodeURIComponent(prefix)}`, { method: 'DELETE', headers: ADMIN })).status).toBe(200);
    errors.mockRestore();
    // The refused send consumed nothing: the number is admitted at once.
    expect((await send(covered)).status).toBe(202);
  });

  it('refuses a prefix shorter than a country calling code with a 400 that says why', async () => {
    for (const prefix of ['+4', '+88']) {
      const refused = await call('/v1/admin/prefix-blocks', {
        method: 'POST',
        headers: { ...ADMIN, 'Content-Type': 'application/json' },
        body: JSON.stringify({ prefix, durationSeconds: 3600 }),
      });
      expect(refused.status).toBe(400);
      const { error } = await refused.json<{ error: { code: string; message: string } }>();
      expect(error).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('whole country calling code') });
    }
  });

  it('an automatic block does not cut short a longer operator block of the same prefix', async () => {
    const errors = quiet();
    const prefix = freshPrefix();
    const vars = { SEQUENTIAL_BURST_NUMBERS: '3' };
    for (let i = 0; i < 2; i++) expect((await send(numberIn(prefix, 100 + i), vars)).status).toBe(202);
    await call('/v1/admin/prefix-blocks', {
      method: 'POST',
      headers: { ...ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify({ prefix, durationSeconds: 30 * 86400, note: 'premium-rate range' }),
    });
    // The third number of the thousand-block sets the object's own 12-hour block as well.
    expect((await send(numberIn(prefix, 102), vars)).status).toBe(429);
    expect((await prefixGuardFor(env, prefix).status()).block).toMatchObject({ reason: 'sequential_numbers' });
    errors.mockRestore();
    const { blocks } = await (await call('/v1/admin/prefix-blocks', { headers: ADMIN })).json<{
      blocks: Array<{ prefix: string; reason: string; until: string }>;
    }>();
    const listed = blocks.find((block) => block.prefix === prefix)!;
    expect(listed.reason).toBe('operator');
    expect(Date.parse(listed.until) - Date.now()).toBeGreaterThan(29 * 86400 * 1000);
  });

  it('refuses bad input and unknown blocks with clear 4xx', async () => {
    const bad = await call('/v1/admin/prefix-blocks', {
      method: 'POST',
      headers: { ...ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify({ prefix: '44abc', durationSeconds: 10 }),
    });
    expect(bad.status).toBe(400);
    const missing = await call(`/v1/admin/prefix-blocks/${encodeURIComponent(freshPrefix())}`, { method: 'DELETE', headers: ADMIN });
    expect(missing.status).toBe(404);
    expect((await call('/v1/admin/prefix-blocks', { headers: {} })).status).toBe(401);
  });
});

describe('the sandbox test numbers', () => {
  const sendTo = (phoneNumber: string, queue: Queue) =>
    fetchWithEnv(
      new Request('https://otp.test/v1/otp', {
        method: 'POST',
        headers: withKey({ 'Content-Type': 'application/json' }),
        body: JSON.stringify({ phoneNumber }),
      }),
      { ...env, SEND_QUEUE: queue } as Env,
    );

  it('never feed the pumping signals: trying all five in a row blocks nothing, yet each keeps its per-phone limit', async () => {
    const { queue } = recordingQueue();
    const numbers = Object.values(SANDBOX_MAGIC_NUMBERS);
    // Five numbers of one thousand-block: as real traffic, the default SEQUENTIAL_BURST_NUMBERS (5) would block +15555.
    for (const number of numbers) expect((await sendTo(number, queue)).status).toBe(202);
    expect(await prefixGuardFor(env, '+15555').status()).toEqual({ block: null, sends: 0, verified: 0 });

    const again = await sendTo(numbers[0]!, queue);
    expect(again.status).toBe(429);
    expect((await again.json<{ error: { code: string } }>()).error.code).toBe('phone_rate_limited');
  });
});
