import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import type { ClientIpGuard } from '../src/limiter/client-ip-guard';
import { clientIpShardOf } from '../src/limiter/client-ip-shards';
import { clientIpGuardFor, ipLimitKey, unknownIpLimitKey } from '../src/limiter/limiter-client';
import { withKey } from './support/apps';
import { uniquePhone } from './support/fixtures';
import { storedIpSends, storedSendsOfIp } from './support/ip-sends';
import { fetchWithEnv } from './support/worker';

/** POST /v1/otp as the test app through the real Worker, from `ip` (none: no header), with `vars` set. */
function send(phoneNumber: string, ip: string | undefined, vars: Record<string, string> = {}) {
  const request = new Request('https://otp.test/v1/otp', {
    method: 'POST',
    headers: withKey({ 'Content-Type': 'application/json', ...(ip ? { 'CF-Connecting-IP': ip } : {}) }),
    body: JSON.stringify({ phoneNumber }),
  });
  return fetchWithEnv(request, { ...env, ...vars } as Env);
}

const errorCode = async (response: Response) => (response.status === 429 ? (await response.json<{ error: { code: string } }>()).error.code : response.status);

let ipCounter = 0;
const uniqueIp = () => `192.0.${Math.floor(++ipCounter / 250) + 10}.${(ipCounter % 250) + 1}`;

/** Another address (of 10.91.0.0/16) whose key goes to the same shard as `ip`'s. */
async function sameShardAs(ip: string): Promise<string> {
  const { shard } = await clientIpShardOf(ipLimitKey(ip));
  for (let i = 0; i < 65_536; i++) {
    const other = `10.91.${i >> 8}.${i & 255}`;
    if ((await clientIpShardOf(ipLimitKey(other))).shard === shard) return other;
  }
  throw new Error('no address of 10.91.0.0/16 in that shard');
}

describe('the client address scope in its shard, end to end', () => {
  it('two addresses of one shard have budgets of their own', async () => {
    const vars = { IP_LIMITS: '2/60' };
    const first = uniqueIp();
    const second = await sameShardAs(first);
    const answers = [];
    for (const ip of [first, first, first, second, second, second]) answers.push(await errorCode(await send(uniquePhone(), ip, vars)));
    expect(answers).toEqual([202, 202, 'ip_rate_limited', 202, 202, 'ip_rate_limited']);
    expect(await storedSendsOfIp(first)).toBe(2);
    expect(await storedSendsOfIp(second)).toBe(2);
  });

  it('admits exactly the limit of concurrent sends from one address, and only from that address', async () => {
    const vars = { IP_LIMITS: '6/60' };
    const busy = uniqueIp();
    const neighbour = await sameShardAs(busy);
    const responses = await Promise.all(Array.from({ length: 60 }, (_, i) => send(uniquePhone(), i % 3 ? busy : neighbour, vars)));
    const admitted = (from: string) => responses.filter((response, i) => response.status === 202 && (i % 3 ? busy : neighbour) === from).length;
    expect(admitted(busy)).toBe(6);
    expect(admitted(neighbour)).toBe(6);
    expect(responses.filter((response) => response.status === 429)).toHaveLength(48);
  });

  it('a refusal answers Retry-After until the window frees a slot, and the RateLimit fields', async () => {
    const ip = uniqueIp();
    const vars = { IP_LIMITS: '1/60,5/3600' };
    expect((await send(uniquePhone(), ip, vars)).status).toBe(202);
    const refused = await send(uniquePhone(), ip, vars);
    expect(await errorCode(refused.clone())).toBe('ip_rate_limited');
    const retryAfter = Number(refused.headers.get('Retry-After'));
    expect(retryAfter).toBeGreaterThan(55);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('RateLimit')).toBe(`"otp";r=0;t=${retryAfter}`);
  });

  it('a send another scope refuses is refunded in the shard', async () => {
    const phone = uniquePhone();
    expect((await send(phone, uniqueIp())).status).toBe(202);
    const ip = uniqueIp();
    // The phone's one a minute is spent: refused, and the address's admitted send is taken back.
    expect(await errorCode(await send(phone, ip))).toBe('phone_rate_limited');
    expect(await storedSendsOfIp(ip)).toBe(0);
  });

  it('missing and unreadable addresses share the one bucket, in its own shard', async () => {
    // A budget no other test uses: the bucket is named by its rules.
    const vars = { UNKNOWN_IP_LIMITS: '3/60,17/3600' };
    const bucket = unknownIpLimitKey(loadConfig({ ...env, ...vars } as Env).limits.unknownIp);
    const answers = [];
    for (const ip of [undefined, 'garbage', '10.61.0.1, 10.61.0.2', undefined]) answers.push(await errorCode(await send(uniquePhone(), ip, vars)));
    expect(answers).toEqual([202, 202, 202, 'ip_rate_limited']);
    expect(await storedIpSends(bucket)).toBe(3);
  });

  it('IPv6 addresses of one /64 are one address in the shard', async () => {
    const vars = { IP_LIMITS: '2/60' };
    const statuses = [];
    for (const ip of ['2001:db8:91:1::1', '2001:db8:91:1:ffff:1:2:3', '2001:db8:91:1::9', '2001:db8:91:2::1'])
      statuses.push(await errorCode(await send(uniquePhone(), ip, vars)));
    expect(statuses).toEqual([202, 202, 'ip_rate_limited', 202]);
    expect(await storedIpSends(ipLimitKey('2001:db8:91:1::/64'))).toBe(2);
    expect(await storedIpSends(ipLimitKey('2001:db8:91:2::/64'))).toBe(1);
  });

  it('stores no client address in the shard', async () => {
    const ip = uniqueIp();
    expect((await send(uniquePhone(), ip)).status).toBe(202);
    const { guard } = await clientIpGuardFor(env, ipLimitKey(ip));
    const keys = await runInDurableObject(guard, (_i: ClientIpGuard, state) =>
      state.storage.sql
        .exec<{ ip_key: string }>('SELECT ip_key FROM ip_sends')
        .toArray()
        .map((row) => row.ip_key),
    );
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.some((key) => key.includes(ip))).toBe(false);
    expect(await storedSendsOfIp(ip)).toBe(1);
  });
});
