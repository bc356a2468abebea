import { sha256Hex } from '../crypto';

/**
 * How many ClientIpGuard objects hold the client addresses' windows. Each address (its rate-limit
 * key: `ip:<address or /64>`, or the one bucket of unreadable addresses) goes to exactly one shard,
 * so its limits stay exact; what the count decides is load and blast radius. At the 100 million
 * OTPs a day docs/abuse-defence.md plans for (about 1,160 sends a second on average, 3,500 at the
 * daily peak), 256 shards see about 14 calls a second each at the peak (refunds add a few): under
 * 2% of Cloudflare's guidance of about 1,000 requests a second per object, so one address flooding
 * its shard, not the shared traffic, is what could ever fill one. More shards would shrink the
 * share of addresses such a flood slows (1/256 here) but keep more objects warm for no exactness.
 */
export const CLIENT_IP_SHARDS = 256;

export interface ClientIpShard {
  /** The shard object's name: its number, nothing of the address. */
  shard: string;
  /**
   * How the shard knows the address: the SHA-256 of its rate-limit key, so no address is stored at
   * rest (the per-address objects it replaces stored none either: their name was only hashed into
   * an id). A hash, not a secret: it keeps addresses out of plain sight, and costs nothing on top
   * of choosing the shard, which needs a hash of the key anyway.
   */
  ipKey: string;
}

/** The shard of a rate-limit key (`ipLimitKey`, `unknownIpLimitKey`), chosen by its hash. */
export async function clientIpShardOf(limitKey: string): Promise<ClientIpShard> {
  const ipKey = await sha256Hex(limitKey);
  // The first 32 bits of the hash; 256 divides 2^32, so every shard is equally likely.
  const index = Number.parseInt(ipKey.slice(0, 8), 16) % CLIENT_IP_SHARDS;
  return { shard: `client-ip:${index}`, ipKey };
}
