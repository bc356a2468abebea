import type { ProviderName } from '../config-providers';
import { errorName, logError } from '../log';
import type { Reservation } from '../pacing/pacing-schedule';
import type { ReserveSlots } from '../pacing/provider-slots';

/** The send times a batch got, by request id, and each pacer's answer (when it frees up next) or its failure. */
export interface BookedTimes {
  slotOf: Map<string, number>;
  answers: Map<ProviderName, Reservation>;
  unreachable: Set<ProviderName>;
}

/**
 * Books send times for a batch's routed requests: each provider's pacer is asked once, in
 * parallel, for the requests that go to it, and for no others. A request routed to a provider
 * is never held back by another provider's schedule (a primary that is down would otherwise book
 * its own pacer for requests that then go elsewhere). Requests a pacer had no time for (past its
 * horizon) get none; a pacer that cannot be reached is logged and its requests get none.
 */
export async function bookSendTimes(
  routedTo: ReadonlyArray<{ requestId: string; provider: ProviderName | null }>,
  reserveAt: (provider: ProviderName) => ReserveSlots,
): Promise<BookedTimes> {
  const byProvider = new Map<ProviderName, string[]>();
  for (const { requestId, provider } of routedTo) {
    if (provider) byProvider.set(provider, [...(byProvider.get(provider) ?? []), requestId]);
  }
  const booked: BookedTimes = { slotOf: new Map(), answers: new Map(), unreachable: new Set() };
  await Promise.all(
    [...byProvider].map(async ([provider, requestIds]) => {
      try {
        const reservation = await reserveAt(provider)(requestIds.length, 0);
        booked.answers.set(provider, reservation);
        reservation.slots.forEach((slot, index) => booked.slotOf.set(requestIds[index]!, slot));
      } catch (error) {
        logError('send.pacer_unavailable', { provider, error: errorName(error), messages: requestIds.length });
        booked.unreachable.add(provider);
      }
    }),
  );
  return booked;
}
