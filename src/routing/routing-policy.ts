import type { Channel } from '../providers/sms-provider';
import type { CircuitState } from './circuit';

/**
 * Which provider a request's next attempt goes to, decided from what is known and nothing else:
 * its past attempts, each provider's circuit, what operators drained, and the channel. Pure, so
 * every rule below is tested on its own.
 *
 * 1. Only providers with the channel; none: `no_provider_for_channel`.
 * 2. A provider without idempotency keys (Twilio) whose earlier call for this request and channel
 *    ended ambiguously (it may have sent) is never called again for it; if that leaves none:
 *    `outcome_unknown`.
 * 3. Drained providers are skipped; if that leaves none: `all_drained` (the request waits).
 * 4. After a transient failure the search starts at the provider after the one that failed
 *    (failover), wrapping round; otherwise at the first. The first provider there whose circuit
 *    is closed, or half-open with the probe granted to this caller, is chosen; if every circuit
 *    is open, the first one all the same: an outage of every provider is retried, not waited out.
 *
 * Permanent errors never reach here: they end the request (an invalid number is invalid at every
 * provider).
 */

export interface PastAttempt {
  provider: string;
  channel: Channel;
  outcome: 'sent' | 'transient' | 'permanent';
  ambiguous: boolean;
}

export interface ProviderStatus {
  name: string;
  idempotent: boolean;
  channels: readonly Channel[];
  circuit: CircuitState;
  /** The half-open circuit's one probe call is this caller's. */
  probe: boolean;
  drained: boolean;
}

export interface RouteInput {
  /** In order of preference (the app's, else the deployment's). */
  providers: readonly ProviderStatus[];
  /** Oldest first. */
  attempts: readonly PastAttempt[];
  channel: Channel;
}

export type Route =
  | { provider: string; why: 'first_choice' | 'failover' | 'circuit_open' | 'all_circuits_open' }
  | { none: 'no_provider_for_channel' | 'outcome_unknown' | 'all_drained' };

export function chooseProvider(input: RouteInput): Route {
  const withChannel = input.providers.filter((provider) => provider.channels.includes(input.channel));
  if (withChannel.length === 0) return { none: 'no_provider_for_channel' };
  const sameChannel = input.attempts.filter((attempt) => attempt.channel === input.channel);
  const unsafe = new Set(sameChannel.filter((attempt) => attempt.ambiguous).map((attempt) => attempt.provider));
  const safe = withChannel.filter((provider) => provider.idempotent || !unsafe.has(provider.name));
  if (safe.length === 0) return { none: 'outcome_unknown' };
  const open = safe.filter((provider) => !provider.drained);
  if (open.length === 0) return { none: 'all_drained' };

  const last = sameChannel.at(-1);
  const failedAt = last?.outcome === 'transient' ? withChannel.findIndex((provider) => provider.name === last.provider) : -1;
  // Start after the provider that just failed, in the full order, so a skipped one keeps its place.
  const rotated =
    failedAt === -1 ? open : [...withChannel.slice(failedAt + 1), ...withChannel.slice(0, failedAt + 1)].filter((provider) => open.includes(provider));
  const usable = rotated.find((provider) => provider.circuit === 'closed' || (provider.circuit === 'half_open' && provider.probe));
  if (!usable) return { provider: rotated[0]!.name, why: 'all_circuits_open' };
  if (failedAt !== -1 && usable.name !== last!.provider) return { provider: usable.name, why: 'failover' };
  return { provider: usable.name, why: usable === rotated[0] ? 'first_choice' : 'circuit_open' };
}

/**
 * The providers of a request, in its order: the app's list where it set one (only those the
 * deployment has), the deployment's otherwise.
 */
export function requestOrder(deployment: readonly string[], app: readonly string[] | null): string[] {
  if (!app) return [...deployment];
  const chosen = app.filter((name) => deployment.includes(name));
  return chosen.length > 0 ? chosen : [...deployment];
}
