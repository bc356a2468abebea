import type { Config } from '../config';
import type { Reservation } from '../limiter/provider-pacer';

/** The send queue's `max_batch_size` in wrangler.toml (a test checks they agree). */
export const SEND_BATCH_SIZE = 100;
const MIN_HORIZON_MS = 2000;
/** A batch never waits longer than this for its send times; at slower rates the rest is requeued. */
const MAX_HORIZON_MS = 10_000;

/**
 * Send times are handed out at most this far ahead; later work is retried through the queue. It
 * covers a full batch at the configured rate (100 at 20/s take 5 s), so a batch is not sent back
 * to the queue in part only because the rate is low.
 */
export function pacingHorizonMs(ratePerSecond: number): number {
  return Math.min(MAX_HORIZON_MS, Math.max(MIN_HORIZON_MS, Math.ceil((SEND_BATCH_SIZE * 1000) / ratePerSecond)));
}

/** Asks the account-wide pacer for send times for `count` provider calls. */
export function reserveProviderSlots(env: Env, config: Config, count: number): Promise<Reservation> {
  if (count === 0) return Promise.resolve({ slots: [], nextFreeAt: Date.now() });
  const pacer = env.PROVIDER_PACER.get(env.PROVIDER_PACER.idFromName('provider'));
  const ratePerSecond = config.providerRatePerSecond;
  return pacer.reserve({ count, ratePerSecond, horizonMs: pacingHorizonMs(ratePerSecond) });
}

/** Queue delay for work that got no send time: when the pacer will next have one. */
export function delayUntilFree(reservation: Reservation, now = Date.now()): number {
  return Math.max(1, Math.ceil((reservation.nextFreeAt - now) / 1000));
}

export function waitUntilSlot(slot: number): Promise<void> {
  const wait = slot - Date.now();
  return wait > 0 ? new Promise((resolve) => setTimeout(resolve, wait)) : Promise.resolve();
}
