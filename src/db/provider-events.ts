import { z } from 'zod';

/** What `provider_events` records: circuit changes, drains and undrains. */
export const PROVIDER_EVENT_KINDS = ['circuit', 'drain', 'undrain'] as const;
export type ProviderEventKind = (typeof PROVIDER_EVENT_KINDS)[number];

export interface ProviderEvent {
  provider: string;
  at: number;
  kind: ProviderEventKind;
  fromState: string | null;
  toState: string | null;
  detail: string | null;
}

const EventRow = z.object({
  provider: z.string(),
  at: z.number(),
  kind: z.enum(PROVIDER_EVENT_KINDS),
  from_state: z.string().nullable(),
  to_state: z.string().nullable(),
  detail: z.string().nullable(),
});

export function providerEventStatement(db: D1Database, event: ProviderEvent): D1PreparedStatement {
  return db
    .prepare('INSERT INTO provider_events (provider, at, kind, from_state, to_state, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)')
    .bind(event.provider, event.at, event.kind, event.fromState, event.toState, event.detail);
}

/** The newest events, newest first, of every provider or one. */
export async function recentProviderEvents(db: D1Database, limit: number, provider?: string): Promise<ProviderEvent[]> {
  const { results } = await db
    .prepare(
      'SELECT provider, at, kind, from_state, to_state, detail FROM provider_events WHERE (?1 IS NULL OR provider = ?1) ORDER BY at DESC, id DESC LIMIT ?2',
    )
    .bind(provider ?? null, limit)
    .all();
  return results.map((row) => {
    const parsed = EventRow.parse(row);
    return { provider: parsed.provider, at: parsed.at, kind: parsed.kind, fromState: parsed.from_state, toState: parsed.to_state, detail: parsed.detail };
  });
}
