import { z } from 'zod';

/**
 * The reads the alert rules evaluate, each over a table the service already writes: nothing is
 * written on the request path for them (the global budget's mark aside, src/db/alert-signals.ts).
 */

/** Provider calls per provider since `since`, and how many sent an SMS. Test numbers reach no provider and are left out. */
export async function providerCallCounts(db: D1Database, since: number): Promise<Array<{ provider: string; calls: number; sent: number }>> {
  const { results } = await db
    .prepare(
      `SELECT provider, COUNT(*) AS calls, SUM(outcome = 'sent') AS sent FROM delivery_attempts
       WHERE started_at >= ?1 AND outcome IN ('sent', 'retry', 'failed') AND provider IS NOT NULL AND provider != 'test_number'
       GROUP BY provider`,
    )
    .bind(since)
    .all();
  return results.map((row) => z.object({ provider: z.string(), calls: z.number(), sent: z.number() }).parse(row));
}

/** Automatic (pumping) blocks in force now. */
export async function activeAutomaticBlocks(db: D1Database, now: number): Promise<Array<{ prefix: string; reason: string; blockedAt: number; until: number }>> {
  const { results } = await db
    .prepare("SELECT prefix, reason, blocked_at, until FROM prefix_blocks WHERE until > ?1 AND lifted_at IS NULL AND reason != 'operator'")
    .bind(now)
    .all();
  return results.map((row) => {
    const parsed = z.object({ prefix: z.string(), reason: z.string(), blocked_at: z.number(), until: z.number() }).parse(row);
    return { prefix: parsed.prefix, reason: parsed.reason, blockedAt: parsed.blocked_at, until: parsed.until };
  });
}

/** Dead letters received since `since`, by reason. */
export async function deadLettersSince(db: D1Database, since: number): Promise<Array<{ reason: string; count: number; lastAt: number }>> {
  const { results } = await db
    .prepare('SELECT reason, COUNT(*) AS count, MAX(received_at) AS last_at FROM dead_letters WHERE received_at > ?1 GROUP BY reason')
    .bind(since)
    .all();
  return results.map((row) => {
    const parsed = z.object({ reason: z.string(), count: z.number(), last_at: z.number() }).parse(row);
    return { reason: parsed.reason, count: parsed.count, lastAt: parsed.last_at };
  });
}

/**
 * Providers whose latest circuit change in `table` (`kind = 'circuit'`, `to_state` one of `closed`,
 * `open`, `half_open`) left the circuit other than closed, with when that change was. None while
 * the table does not exist.
 */
export async function circuitsNotClosed(db: D1Database): Promise<Array<{ provider: string; state: string; since: number }>> {
  // The latest circuit change per provider, through provider_events_circuits (a handful of providers, each one index seek).
  const { results } = await db
    .prepare(
      `SELECT providers.provider, latest.to_state AS state, latest.at
       FROM (SELECT DISTINCT provider FROM provider_events WHERE kind = 'circuit') AS providers
       JOIN provider_events AS latest ON latest.id = (
         SELECT id FROM provider_events WHERE kind = 'circuit' AND provider = providers.provider ORDER BY at DESC, id DESC LIMIT 1)
       WHERE latest.to_state IS NOT NULL AND latest.to_state != 'closed'`,
    )
    .all();
  return results.map((row) => {
    const parsed = z.object({ provider: z.string(), state: z.string(), at: z.number() }).parse(row);
    return { provider: parsed.provider, state: parsed.state, since: parsed.at };
  });
}
