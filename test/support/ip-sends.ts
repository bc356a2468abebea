import { env, runInDurableObject } from 'cloudflare:test';
import type { ClientIpGuard } from '../../src/limiter/client-ip-guard';
import { clientIpGuardFor, ipLimitKey } from '../../src/limiter/limiter-client';

/**
 * A client address's sends as its limits see them: its rows in the ClientIpGuard shard its key
 * hashes to. `limitKey` is `ipLimitKey(...)` of the address's rate-limit identity, or the bucket
 * of unreadable addresses (`unknownIpLimitKey`).
 */
export async function storedIpSends(limitKey: string): Promise<number> {
  const { guard, ipKey } = await clientIpGuardFor(env, limitKey);
  return runInDurableObject(
    guard,
    (_i: ClientIpGuard, state) => state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM ip_sends WHERE ip_key = ?', ipKey).one().n,
  );
}

/** An IPv4 address's sends (its rate-limit identity is the address itself). */
export const storedSendsOfIp = (ip: string) => storedIpSends(ipLimitKey(ip));

/** Makes the address key's sends look `ms` older, as if that much time had passed. */
export async function ageIpSends(limitKey: string, ms: number): Promise<void> {
  const { guard, ipKey } = await clientIpGuardFor(env, limitKey);
  await runInDurableObject(guard, (_i: ClientIpGuard, state) => {
    state.storage.sql.exec('UPDATE ip_sends SET at = at - ? WHERE ip_key = ?', ms, ipKey);
  });
}
