import { env, runDurableObjectAlarm, runInDurableObject, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { numberKeyOf, prefixGuardFor } from '../src/limiter/limiter-client';
import type { PrefixGuard } from '../src/limiter/prefix-guard';
import { phonePrefix } from '../src/phone';
import { withKey } from './support/apps';
import { uniquePhone } from './support/fixtures';
import { storedSendsOfIp } from './support/ip-sends';
import { agePhoneSends, QUIET_PUMPING, storedPhoneSends } from './support/phone-sends';
import { fetchWithEnv } from './support/worker';

/** POST /v1/otp as the test app, through the real Worker with its env changed by `vars`. */
function send(phoneNumber: string, options: { ip?: string; vars?: Record<string, string> } = {}) {
  const request = new Request('https://otp.test/v1/otp', {
    method: 'POST',
    headers: withKey({ 'Content-Type': 'application/json', ...(options.ip ? { 'CF-Connecting-IP': options.ip } : {}) }),
    body: JSON.stringify({ phoneNumber }),
  });
  return options.vars ? fetchWithEnv(request, { ...env, ...options.vars } as Env) : SELF.fetch(request);
}

let ipCounter = 0;
const uniqueIp = () => `198.51.${Math.floor(++ipCounter / 250)}.${(ipCounter % 250) + 1}`;
/**
 * A destination prefix (the first five digits) of its own per call, so prefix state never leaks
 * between tests: UK mobile ranges +44 741 to +44 759, in which every number is a mobile one.
 */
let prefixCounter = 40;
const freshPrefix = () => `+447${++prefixCounter}`;
const prefixPhone = (prefix: string, n: number) => `${prefix}${String(n).padStart(7, '0')}`;

describe('per-phone scope', () => {
  it('admits exactly one of 100 concurrent sends for one phone', async () => {
    const phone = uniquePhone();
    const responses = await Promise.all(Array.from({ length: 100 }, () => send(phone, { ip: uniqueIp() })));
    expect(responses.filter((r) => r.status === 202)).toHaveLength(1);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(99);
  });

  it('admits exactly the limit of 100 concurrent sends for one phone, and records exactly those', async () => {
    const phone = uniquePhone();
    const vars = { PHONE_LIMITS: '7/60', PHONE_COOLDOWN_SECONDS: '0' };
    const responses = await Promise.all(Array.from({ length: 100 }, () => send(phone, { ip: uniqueIp(), vars })));
    expect(responses.filter((r) => r.status === 202)).toHaveLength(7);
    const refused = responses.filter((r) => r.status === 429);
    expect(refused).toHaveLength(93);
    const codes = new Set(await Promise.all(refused.map(async (r) => (await r.json<{ error: { code: string } }>()).error.code)));
    expect([...codes]).toEqual(['phone_rate_limited']);
    expect(await storedPhoneSends(phone)).toBe(7);
    expect((await prefixGuardFor(env, phonePrefix(phone)).status()).sends).toBe(7);
  });

  it('progressive cooldown: 30 s, then 60 s, then 120 s, then 300 s between sends', async () => {
    const phone = uniquePhone();
    const prefix = phonePrefix(phone);
    const stub = prefixGuardFor(env, prefix);
    const numberKey = await numberKeyOf(phone);
    const roomy = [{ limit: 100, windowSeconds: 86400 }];
    const phoneLimits = { rules: roomy, cooldown: { scheduleSeconds: [30, 60, 120, 300], resetSeconds: 3600 } };
    const pumping = QUIET_PUMPING;
    const admit = () =>
      stub.admit({ prefix, requestId: crypto.randomUUID(), numberKey, blockKey: `${numberKey}-block`, rules: roomy, pumping, phone: phoneLimits });
    const waits: number[] = [];
    for (let sent = 0; sent < 5; sent++) {
      expect((await admit()).allowed).toBe(true);
      const denied = await admit();
      if (denied.allowed) throw new Error('the cooldown admitted a send');
      expect(denied.refusals.map((refusal) => refusal.scope)).toEqual(['phone']);
      waits.push(denied.refusals[0]!.retryAfterSeconds);
      // Move time forward past the cooldown by ageing every send of the phone.
      await agePhoneSends(phone, denied.refusals[0]!.retryAfterSeconds * 1000);
    }
    expect(waits).toEqual([30, 60, 120, 300, 300]);
  });

  it('PHONE_COOLDOWN_SECONDS reaches admission: POST /v1/otp waits its values, not the defaults', async () => {
    const phone = uniquePhone();
    // Windows roomy enough never to refuse here: only the cooldown can.
    const vars = { PHONE_LIMITS: '100/86400', PHONE_COOLDOWN_SECONDS: '45,90' };
    const retryAfter = async () => {
      const refused = await send(phone, { ip: uniqueIp(), vars });
      expect(refused.status).toBe(429);
      expect((await refused.json<{ error: { code: string } }>()).error.code).toBe('phone_rate_limited');
      return Number(refused.headers.get('Retry-After'));
    };
    expect((await send(phone, { ip: uniqueIp(), vars })).status).toBe(202);
    const first = await retryAfter();
    // 45 s less the moments since the send; the default schedule would say 30.
    expect(first).toBeGreaterThan(30);
    expect(first).toBeLessThanOrEqual(45);
    // The cooldown passes: the phone's send is made 45 s older.
    await agePhoneSends(phone, 45_000);
    expect((await send(phone, { ip: uniqueIp(), vars })).status).toBe(202);
    const second = await retryAfter();
    expect(second).toBeGreaterThan(45);
    expect(second).toBeLessThanOrEqual(90);
  });
});

describe('per-IP scope', () => {
  it('one IP cannot fan out to unlimited phones: exactly its limit of 100 concurrent sends to distinct phones', async () => {
    const ip = uniqueIp();
    const responses = await Promise.all(Array.from({ length: 100 }, () => send(uniquePhone(), { ip })));
    // IP_LIMITS default: 10 a minute.
    expect(responses.filter((r) => r.status === 202)).toHaveLength(10);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(90);
  });

  it('IPv6 clients are limited per /64', async () => {
    const vars = { IP_LIMITS: '2/60' };
    const base = '2001:db8:aa:bb';
    const statuses = [];
    for (const host of ['::1', ':1:2:3:4', ':ffff::9']) statuses.push((await send(uniquePhone(), { ip: `${base}${host}`, vars })).status);
    expect(statuses).toEqual([202, 202, 429]);
  });

  it('an IPv4-mapped IPv6 address is its IPv4 address, dotted or in hex', async () => {
    const vars = { IP_LIMITS: '3/60' };
    const statuses = [];
    for (const ip of ['10.60.0.1', '::ffff:10.60.0.1', '::FFFF:a3c:1', '0:0:0:0:0:ffff:10.60.0.1']) {
      const response = await send(uniquePhone(), { ip, vars });
      statuses.push(response.status === 429 ? (await response.json<{ error: { code: string } }>()).error.code : response.status);
    }
    expect(statuses).toEqual([202, 202, 202, 'ip_rate_limited']);
  });

  it('missing and unreadable addresses share one strict bucket (UNKNOWN_IP_LIMITS, 5 a minute by default)', async () => {
    // The suite opens this bucket up (see vitest.config.ts); an empty value restores the default.
    const vars = { UNKNOWN_IP_LIMITS: '' };
    const unreadable = [undefined, 'garbage', '10.61.0.1, 10.61.0.2', '999.1.1.1', '::ffff:10.61.0.1.5', '1::2::3', undefined];
    const answers = [];
    for (const ip of unreadable) {
      const response = await send(uniquePhone(), { ip, vars });
      answers.push(response.status === 429 ? (await response.json<{ error: { code: string } }>()).error.code : response.status);
    }
    expect(answers).toEqual([202, 202, 202, 202, 202, 'ip_rate_limited', 'ip_rate_limited']);
    // A readable address is not in that bucket.
    expect((await send(uniquePhone(), { ip: uniqueIp(), vars })).status).toBe(202);
  });
});

describe('per-prefix scope', () => {
  it('is exact under 100 concurrent sends to distinct numbers of one prefix', async () => {
    const prefix = freshPrefix();
    const vars = { PREFIX_LIMITS: '7/60', SEQUENTIAL_BURST_NUMBERS: '1000' };
    const responses = await Promise.all(Array.from({ length: 100 }, (_, i) => send(prefixPhone(prefix, 1000 * i + 7), { ip: uniqueIp(), vars })));
    expect(responses.filter((r) => r.status === 202)).toHaveLength(7);
  });
});

describe('a denied request consumes nothing', () => {
  it('a phone denied by its own limit leaves the IP and prefix budgets untouched', async () => {
    const phone = prefixPhone(freshPrefix(), 4242);
    const ip = uniqueIp();
    expect((await send(phone, { ip })).status).toBe(202);
    for (let i = 0; i < 5; i++) expect((await send(phone, { ip })).status).toBe(429);
    expect(await storedSendsOfIp(ip)).toBe(1);
    expect((await prefixGuardFor(env, phonePrefix(phone)).status()).sends).toBe(1);
  });

  it('an IP denied by its limit leaves the phone’s budget untouched', async () => {
    const ip = uniqueIp();
    const vars = { IP_LIMITS: '1/60' };
    expect((await send(uniquePhone(), { ip, vars })).status).toBe(202);
    const phone = uniquePhone();
    expect((await send(phone, { ip, vars })).status).toBe(429);
    expect(await storedPhoneSends(phone)).toBe(0);
    // The same phone from another address is admitted at once.
    expect((await send(phone, { ip: uniqueIp(), vars })).status).toBe(202);
  });

  it('a denied request writes nothing to D1', async () => {
    const phone = uniquePhone();
    await send(phone, { ip: uniqueIp() });
    const before = await env.DB.prepare('SELECT COUNT(*) AS n FROM otp_requests').first<{ n: number }>();
    for (let i = 0; i < 5; i++) await send(phone, { ip: uniqueIp() });
    const after = await env.DB.prepare('SELECT COUNT(*) AS n FROM otp_requests').first<{ n: number }>();
    expect(after!.n).toBe(before!.n);
  });
});

describe('refusals name their reason', () => {
  it('a 429 says which scope refused, with Retry-After and the RateLimit fields', async () => {
    const ip = uniqueIp();
    const vars = { IP_LIMITS: '1/60' };
    await send(uniquePhone(), { ip, vars });
    const byIp = await send(uniquePhone(), { ip, vars });
    const phone = uniquePhone();
    await send(phone, { ip: uniqueIp() });
    const byPhone = await send(phone, { ip: uniqueIp() });
    const prefix = freshPrefix();
    const prefixVars = { PREFIX_LIMITS: '1/60' };
    await send(prefixPhone(prefix, 1000), { ip: uniqueIp(), vars: prefixVars });
    const byPrefix = await send(prefixPhone(prefix, 2000), { ip: uniqueIp(), vars: prefixVars });
    const codes = [];
    for (const response of [byIp, byPhone, byPrefix]) {
      expect(response.status).toBe(429);
      const retryAfter = response.headers.get('Retry-After');
      expect(Number(retryAfter)).toBeGreaterThan(0);
      expect(response.headers.get('RateLimit')).toBe(`"otp";r=0;t=${retryAfter}`);
      expect(response.headers.get('RateLimit-Policy')).toMatch(/^"otp";q=\d+;w=\d+$/);
      const { error } = await response.json<{ error: { code: string; retryAfterSeconds: number } }>();
      expect(error.retryAfterSeconds).toBe(Number(retryAfter));
      codes.push(error.code);
    }
    expect(codes).toEqual(['ip_rate_limited', 'phone_rate_limited', 'prefix_rate_limited']);
  });

  it('when several scopes refuse, the phone is named before the IP, with the longest Retry-After of all', async () => {
    const ip = uniqueIp();
    const phone = uniquePhone();
    const vars = { IP_LIMITS: '1/3600' };
    expect((await send(phone, { ip, vars })).status).toBe(202);
    // The phone waits out its 30 s cooldown and 60 s window; the IP its hour.
    const both = await send(phone, { ip, vars });
    expect(both.status).toBe(429);
    expect((await both.json<{ error: { code: string } }>()).error.code).toBe('phone_rate_limited');
    expect(Number(both.headers.get('Retry-After'))).toBeGreaterThan(3500);
  });
});

describe('country allowlist and global budget', () => {
  it('refuses numbers outside the allowed countries with 422 country_not_allowed', async () => {
    const vars = { ALLOWED_COUNTRIES: 'IN,GB' };
    expect((await send(uniquePhone(), { vars })).status).toBe(202);
    const refused = await send('+8821612345678', { vars });
    expect(refused.status).toBe(422);
    expect((await refused.json<{ error: { code: string } }>()).error.code).toBe('country_not_allowed');
  });

  it('answers 503 global_budget_exhausted with Retry-After once the global budget is spent, and never admits more than it', async () => {
    const vars = { GLOBAL_SEND_LIMIT: '8/60', GLOBAL_SHARDS: '2', IP_LIMITS: '1000/60' };
    const responses = await Promise.all(Array.from({ length: 30 }, () => send(uniquePhone(), { vars, ip: uniqueIp() })));
    const admitted = responses.filter((r) => r.status === 202).length;
    // Two shards of 4; a request whose first shard is spent tries the other, so exactly 8.
    expect(admitted).toBe(8);
    const refused = responses.find((r) => r.status === 503)!;
    expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThan(0);
    expect(refused.headers.get('RateLimit')).toBeNull();
    expect((await refused.json<{ error: { code: string } }>()).error.code).toBe('global_budget_exhausted');
  });
});

describe('window state expires', () => {
  it('the prefix guard deletes its storage once idle and unblocked', async () => {
    const prefix = freshPrefix();
    await send(prefixPhone(prefix, 12345), { ip: uniqueIp() });
    const stub = prefixGuardFor(env, prefix);
    await runInDurableObject(stub, (_i: PrefixGuard, state) => {
      state.storage.sql.exec('UPDATE sends SET at = at - 100000000');
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const left = await runInDurableObject(stub, async (_i: PrefixGuard, state) => ({
      sends: state.storage.sql.exec('SELECT * FROM sends').toArray().length,
      alarm: await state.storage.getAlarm(),
      kv: (await state.storage.list()).size,
    }));
    expect(left).toEqual({ sends: 0, alarm: null, kv: 0 });
  });
});
