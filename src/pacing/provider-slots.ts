import type { Config } from '../config';
import { providerOrder } from '../config-providers';
import { PLANNED_WINDOW_MS, type Reservation } from './pacing-schedule';

/** The send queue's `max_batch_size` in wrangler.toml (a test checks they agree). */
export const SEND_BATCH_SIZE = 100;
const MIN_HORIZON_MS = 2000;
/** A batch never waits longer than this for its send times; at slower rates the rest is requeued. */
const MAX_HORIZON_MS = 10_000;
const MAX_LEAD_MS = 10_000;

/**
 * Send times are handed out at most this far ahead; later work is retried through the queue. It
 * covers a full batch at the configured rate (100 at 20/s take 5.75 s: the pacer fits 20 into
 * each 1.15 s), so a batch is not sent back to the queue in part only because the rate is low.
 */
export function pacingHorizonMs(ratePerSecond: number): number {
  return Math.min(MAX_HORIZON_MS, Math.max(MIN_HORIZON_MS, Math.ceil((SEND_BATCH_SIZE * PLANNED_WINDOW_MS) / ratePerSecond)));
}

/** Asks the account-wide pacer for `count` send times, none sooner than `leadMs` from now. */
export type ReserveSlots = (count: number, leadMs: number) => Promise<Reservation>;

/** Each provider's own account rate: Twilio's, or StartMessaging's (which the sandbox providers share). */
export function providerRate(config: Config, provider: string): number {
  return provider === 'twilio' ? config.twilio.ratePerSecond : config.provider.ratePerSecond;
}

/**
 * Each provider has a pacer of its own. The first provider's keeps the name the single pacer had
 * (`provider`), so a deployment that adds a second provider keeps its schedule.
 */
export function pacerName(provider: string): string {
  return provider === 'startmessaging' || provider === 'sandbox' ? 'provider' : `provider:${provider}`;
}

/** The slowest rate any of the deployment's providers is paced at: the longest horizon a batch may wait. */
export function slowestRate(config: Config): number {
  return Math.min(...providerOrder(config).map((provider) => providerRate(config, provider)));
}

export function providerSlots(env: Env, config: Config, provider: string = providerOrder(config)[0]!): ReserveSlots {
  const ratePerSecond = providerRate(config, provider);
  const horizonMs = pacingHorizonMs(ratePerSecond);
  const name = pacerName(provider);
  return (count, leadMs) => {
    if (count === 0) return Promise.resolve({ slots: [], nextFreeAt: Date.now() });
    const pacer = env.PROVIDER_PACER.get(env.PROVIDER_PACER.idFromName(name));
    const lead = Math.min(MAX_LEAD_MS, Math.max(0, Math.ceil(leadMs)));
    return pacer.reserve({ count, ratePerSecond, horizonMs, leadMs: lead });
  };
}

/** Queue delay for work that got no send time: when the pacer will next have one. */
export function delayUntilFree(reservation: Reservation, now = Date.now()): number {
  return Math.max(1, Math.ceil((reservation.nextFreeAt - now) / 1000));
}
