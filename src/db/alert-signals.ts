import { z } from 'zod';

/** What the request path marks in `alert_signals` (the table's CHECK). */
export type AlertSignal = 'global_budget_exhausted';

/** Records that the signal was seen now. */
export function markSignalStatement(db: D1Database, name: AlertSignal, at: number): D1PreparedStatement {
  return db
    .prepare(
      'INSERT INTO alert_signals (name, first_at, last_at) VALUES (?1, ?2, ?2) ON CONFLICT (name) DO UPDATE SET last_at = MAX(last_at, excluded.last_at)',
    )
    .bind(name, at);
}

/** When the signal was last seen, or null if never. */
export async function signalLastAt(db: D1Database, name: AlertSignal): Promise<number | null> {
  const row = await db.prepare('SELECT last_at FROM alert_signals WHERE name = ?1').bind(name).first();
  return row === null ? null : z.object({ last_at: z.number() }).parse(row).last_at;
}

/** An isolate marks a signal at most this often: a burst of refusals costs one write per isolate, not one per refusal. */
export const SIGNAL_MARK_INTERVAL_MS = 10_000;
const lastMarked = new Map<AlertSignal, number>();

/** Marks the signal unless this isolate did so within SIGNAL_MARK_INTERVAL_MS; null when it is skipped. */
export function markSignalThrottled(db: D1Database, name: AlertSignal, now: number): Promise<unknown> | null {
  const last = lastMarked.get(name);
  if (last !== undefined && now - last < SIGNAL_MARK_INTERVAL_MS && now >= last) return null;
  lastMarked.set(name, now);
  return markSignalStatement(db, name, now).run();
}
