import type { Config } from '../config';
import type { Reservation } from '../limiter/provider-pacer';

/** Send times are handed out at most this far ahead; later work is retried through the queue. */
export const PACING_HORIZON_MS = 2000;

/** Asks the account-wide pacer for send times for `count` provider calls. */
export function reserveProviderSlots(env: Env, config: Config, count: number): Promise<Reservation> {
  if (count === 0) return Promise.resolve({ slots: [], nextFreeAt: Date.now() });
  const pacer = env.PROVIDER_PACER.get(env.PROVIDER_PACER.idFromName('provider'));
  return pacer.reserve({ count, ratePerSecond: config.providerRatePerSecond, horizonMs: PACING_HORIZON_MS });
}

/** Queue delay for work that got no send time: when the pacer will next have one. */
export function delayUntilFree(reservation: Reservation, now = Date.now()): number {
  return Math.max(1, Math.ceil((reservation.nextFreeAt - now) / 1000));
}

export function waitUntilSlot(slot: number): Promise<void> {
  const wait = slot - Date.now();
  return wait > 0 ? new Promise((resolve) => setTimeout(resolve, wait)) : Promise.resolve();
}
