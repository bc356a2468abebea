import type { ProviderName } from '../config-providers';
import type { ClaimedRequest } from '../db/delivery-attempts';
import { delayUntilFree, type ReserveSlots } from '../pacing/provider-slots';
import type { Clock, StartDecision, StartGate } from '../pacing/start-gate';
import { type BatchRouting, routeRequest, seenDown, whenSeenDown } from './route-jobs';

/** Where and when one routed call starts, or why it does not (its claim is then given back). */
export type Started = { provider: ProviderName; startedAt: number } | { released: { reason: string; retryAfterSeconds: number } };

/**
 * Starts one routed call on its send time at its provider, unless the batch's own calls show that
 * provider down first: then it stops waiting at once and goes to the provider the routing policy
 * now picks, on a send time from that provider's pacer. A call never waits out a send time at a
 * provider it will not call, and none is made to a provider the batch has seen down while another
 * is there to take it.
 */
export async function startCall(args: {
  routing: BatchRouting;
  request: ClaimedRequest;
  provider: ProviderName;
  slot: number;
  deadline: number;
  clock: Clock;
  gateOf: (name: ProviderName) => StartGate;
  reserveAt: (name: ProviderName) => ReserveSlots;
}): Promise<Started> {
  const { routing, provider, slot, deadline, clock, gateOf } = args;
  // A time past the deadline is refused by the gate at once; any other is waited for here, where the wait can be cut short.
  const wait = slot < deadline ? slot - clock.now() : 0;
  if (wait > 0) await Promise.race([clock.sleep(wait), whenSeenDown(routing, provider)]);
  let startedHere: number | null = null;
  if (!seenDown(routing, provider)) {
    const start = await gateOf(provider).waitForStart(slot, deadline);
    if (!start.start) return released(start);
    startedHere = start.startedAt;
  }
  // Down before its time, or while the gate found it a new one.
  const target = seenDown(routing, provider) ? rerouted(routing, args.request, provider) : provider;
  if (target === provider) {
    if (startedHere !== null) return { provider, startedAt: startedHere };
    const start = await gateOf(provider).waitForStart(slot, deadline);
    return start.start ? { provider, startedAt: start.startedAt } : released(start);
  }
  const own = await args.reserveAt(target)(1, 0);
  const next = own.slots[0];
  if (next === undefined) return { released: { reason: 'rerouted_pacer_busy', retryAfterSeconds: delayUntilFree(own, clock.now()) } };
  const start = await gateOf(target).waitForStart(next, deadline);
  return start.start ? { provider: target, startedAt: start.startedAt } : released(start, 'rerouted_');
}

/** Where the request goes now that the batch has seen `provider` down; `provider` itself when nowhere better is left. */
function rerouted(routing: BatchRouting, request: ClaimedRequest, provider: ProviderName): ProviderName {
  const { route } = routeRequest(routing, request, [], { consumeProbe: false });
  return 'provider' in route ? (route.provider as ProviderName) : provider;
}

function released(start: Extract<StartDecision, { start: false }>, prefix = ''): Started {
  return { released: { reason: `${prefix}${start.reason}`, retryAfterSeconds: start.retryAfterSeconds } };
}
