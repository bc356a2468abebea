import { parseStoredSettings } from '../apps/app-settings';
import type { Config } from '../config';
import type { ProviderName } from '../config-providers';
import type { ClaimedRequest } from '../db/delivery-attempts';
import { listDrains } from '../db/provider-drains';
import { errorName, logError } from '../log';
import type { Channel, SmsProvider } from '../providers/sms-provider';
import type { HealthView } from '../routing/provider-health';
import { readHealth } from '../routing/provider-health-client';
import { chooseProvider, type PastAttempt, type ProviderStatus, type Route, requestOrder } from '../routing/routing-policy';

/**
 * What a send batch knows about its providers before it routes: their health (asked once per
 * batch) and the drains, and from each claimed request its past attempts and channel. The rules
 * themselves are the routing policy's (`src/routing/routing-policy.ts`).
 */

export interface BatchRouting {
  providers: ReadonlyMap<ProviderName, SmsProvider>;
  health: Map<string, HealthView>;
  drained: ReadonlySet<string>;
  /** The batch's own calls so far, by provider: a provider they show to be down is routed around at once. */
  seen: Map<string, { calls: number; failures: number }>;
  /** Calls waiting for their send time at a provider, woken when the batch's calls show it down. */
  downWaiters: Map<string, Array<() => void>>;
  circuit: { minFailures: number; failureRate: number };
}

export async function loadRouting(env: Env, config: Config, providers: ReadonlyMap<ProviderName, SmsProvider>): Promise<BatchRouting> {
  const names = [...providers.keys()];
  const [health, drains] = await Promise.all([
    readHealth(env, config, names, true),
    listDrains(env.DB).catch((error) => {
      // Without the drains the batch routes as if none were set: a drain is a preference, not a safety rule.
      logError('send.drains_unreadable', { error: errorName(error) });
      return [];
    }),
  ]);
  const { minFailures, failureRate } = config.routing.circuit;
  return {
    providers,
    health,
    drained: new Set(drains.map((drain) => drain.provider)),
    seen: new Map(),
    downWaiters: new Map(),
    circuit: { minFailures, failureRate },
  };
}

/**
 * Counts one of the batch's calls. A batch's calls are spread over seconds by the pacer, and the
 * health objects hear of them only when it ends: without this, a provider that went down would
 * get a whole batch (a hundred calls) before its circuit opened. Once the batch's own failures
 * meet the circuit's rule, its view of the provider is open, and its later calls go elsewhere.
 */
export function noteCall(routing: BatchRouting, provider: string, ok: boolean): 'went_down' | null {
  const wasDown = seenDown(routing, provider);
  const seen = routing.seen.get(provider) ?? { calls: 0, failures: 0 };
  seen.calls += 1;
  if (!ok) seen.failures += 1;
  routing.seen.set(provider, seen);
  if (wasDown || !seenDown(routing, provider)) return null;
  const view = routing.health.get(provider);
  if (view?.state === 'closed') routing.health.set(provider, { ...view, state: 'open' });
  for (const wake of routing.downWaiters.get(provider) ?? []) wake();
  routing.downWaiters.delete(provider);
  return 'went_down';
}

/** Resolves once the batch's own calls show `provider` down (at once if they already do); it may never resolve. */
export function whenSeenDown(routing: BatchRouting, provider: string): Promise<void> {
  if (seenDown(routing, provider)) return Promise.resolve();
  return new Promise((resolve) => routing.downWaiters.set(provider, [...(routing.downWaiters.get(provider) ?? []), resolve]));
}

/** Whether the batch's own calls to `provider` meet the circuit's rule for opening. */
export function seenDown(routing: BatchRouting, provider: string): boolean {
  const seen = routing.seen.get(provider);
  return seen !== undefined && seen.failures >= routing.circuit.minFailures && seen.failures / seen.calls >= routing.circuit.failureRate;
}

function providerStatuses(routing: BatchRouting, order: readonly string[]): ProviderStatus[] {
  return order.flatMap((name) => {
    const provider = routing.providers.get(name as ProviderName);
    if (!provider) return [];
    const view = routing.health.get(name);
    return [
      {
        name,
        idempotent: provider.idempotent,
        channels: provider.channels,
        circuit: view?.state ?? 'closed',
        probe: view?.probe ?? false,
        drained: routing.drained.has(name),
      },
    ];
  });
}

/** The calls recorded for the request, and one of unknown provider for each call a lapsed claim may have made unrecorded. */
export function pastAttempts(request: ClaimedRequest): PastAttempt[] {
  let rows: unknown;
  try {
    rows = JSON.parse(request.past_attempts);
  } catch {
    rows = [];
  }
  const recorded: PastAttempt[] = (Array.isArray(rows) ? rows : []).map((row) => {
    const [provider, channel, outcome, ambiguous] = Array.isArray(row) ? row : [];
    return {
      provider: String(provider ?? ''),
      channel: channel === 'whatsapp' ? 'whatsapp' : 'sms',
      outcome: outcome === 'sent' ? 'sent' : outcome === 'retry' ? 'transient' : 'permanent',
      ambiguous: ambiguous === 1,
    };
  });
  // `attempts` counts calls (this claim's included); a claim that lapsed mid-call left none recorded.
  const lost = Math.max(0, request.attempts - 1 - recorded.length);
  const channel = channelOf(request);
  return [...Array.from({ length: lost }, (): PastAttempt => ({ provider: '*', channel, outcome: 'transient', ambiguous: true })), ...recorded];
}

/** `sms` and `whatsapp` as asked; `auto` is WhatsApp until it fell back to SMS. */
export function channelOf(request: Pick<ClaimedRequest, 'channel' | 'sms_fallback_at'>): Channel {
  if (request.channel === 'whatsapp') return 'whatsapp';
  if (request.channel === 'auto' && request.sms_fallback_at === null) return 'whatsapp';
  return 'sms';
}

/** Where this request's attempt goes, given its past attempts (and `extra`, an attempt just made). */
export function routeRequest(
  routing: BatchRouting,
  request: ClaimedRequest,
  extra: PastAttempt[] = [],
  { consumeProbe = true } = {},
): { route: Route; channel: Channel } {
  const settings = request.app_settings_json ? parseStoredSettings(request.app_settings_json) : null;
  const order = requestOrder([...routing.providers.keys()], settings?.providers ?? null);
  let channel = channelOf(request);
  const statuses = providerStatuses(routing, order);
  // `auto` with no WhatsApp provider at all is plain SMS.
  if (request.channel === 'auto' && channel === 'whatsapp' && !statuses.some((status) => status.channels.includes('whatsapp'))) channel = 'sms';
  const route = chooseProvider({ providers: statuses, attempts: [...pastAttempts(request), ...extra], channel });
  // A half-open circuit's probe is one call: once routed there, the rest of the batch routes around it.
  if (consumeProbe && 'provider' in route) {
    const view = routing.health.get(route.provider);
    if (view?.probe) routing.health.set(route.provider, { ...view, probe: false });
  }
  return { route, channel };
}
