import { z } from 'zod';
import { providerEventStatement } from './provider-events';

/** A provider an operator took out of routing. */
export interface ProviderDrain {
  provider: string;
  drainedAt: number;
  actor: string;
  reason: string | null;
}

const DrainRow = z.object({ provider: z.string(), drained_at: z.number(), actor: z.string(), reason: z.string().nullable() });

export async function listDrains(db: D1Database): Promise<ProviderDrain[]> {
  const { results } = await db.prepare('SELECT provider, drained_at, actor, reason FROM provider_drains ORDER BY provider').all();
  return results.map((row) => {
    const parsed = DrainRow.parse(row);
    return { provider: parsed.provider, drainedAt: parsed.drained_at, actor: parsed.actor, reason: parsed.reason };
  });
}

/** Drains a provider (again: the first drain's time is kept) and records the event, in one batch. */
export async function drainProvider(db: D1Database, drain: ProviderDrain): Promise<void> {
  await db.batch([
    db
      .prepare('INSERT INTO provider_drains (provider, drained_at, actor, reason) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (provider) DO NOTHING')
      .bind(drain.provider, drain.drainedAt, drain.actor, drain.reason),
    providerEventStatement(db, { provider: drain.provider, at: drain.drainedAt, kind: 'drain', fromState: null, toState: null, detail: drainDetail(drain) }),
  ]);
}

/** Puts a provider back into routing; answers whether it was drained. */
export async function undrainProvider(db: D1Database, change: { provider: string; at: number; actor: string }): Promise<boolean> {
  const deleted = await db.prepare('DELETE FROM provider_drains WHERE provider = ?1 RETURNING provider').bind(change.provider).first();
  if (!deleted) return false;
  await providerEventStatement(db, {
    provider: change.provider,
    at: change.at,
    kind: 'undrain',
    fromState: null,
    toState: null,
    detail: `by ${change.actor}`,
  }).run();
  return true;
}

function drainDetail(drain: ProviderDrain): string {
  return drain.reason ? `by ${drain.actor}: ${drain.reason}` : `by ${drain.actor}`;
}
