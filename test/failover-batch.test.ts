import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import type { Reservation, ReserveInput } from '../src/pacing/pacing-schedule';
import { circuitSettings } from '../src/routing/provider-health-client';
import { attemptRows, PROVIDER_URL, requestRow, SEND_ROUTE, seedRequest } from './support/fixtures';
import { interceptOrigin, json } from './support/outbound';
import { withOwnPacer, withScriptedPacer } from './support/pacer';
import { TWILIO_SEND_ROUTE, TWILIO_URL, twilioCreated, twoProviderEnv } from './support/providers';
import { deliverSendJobs } from './support/queue';

/**
 * How one send batch behaves while its primary goes down: whose pacer it books, how long a call
 * waits at a provider the batch has seen fail, and when the provider's health object hears of it.
 */

const down = () => json(503, { error: { message: 'down' } });
/** The two pacers told apart by the rate they are asked at: Twilio's is 10/s (StartMessaging's 20/s), the defaults. */
const TWILIO_RATE = 10;

function smHealth(testEnv: Env) {
  const settings = circuitSettings(loadConfig(testEnv));
  return testEnv.PROVIDER_HEALTH.get(testEnv.PROVIDER_HEALTH.idFromName('startmessaging')).view({ provider: 'startmessaging', settings });
}

/** Twilio's pacer always has a time now; StartMessaging's answers `sm`. */
function pacers(sm: (input: ReserveInput) => Reservation) {
  return (input: ReserveInput): Reservation =>
    input.ratePerSecond === TWILIO_RATE ? { slots: Array.from({ length: input.count }, () => Date.now()), nextFreeAt: Date.now() + 100 } : sm(input);
}

describe('a send batch while its primary is down', () => {
  it('books only the pacer of the provider each request goes to: a full primary schedule does not hold back a failover', async () => {
    const { id } = await seedRequest();
    const sm = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: down });
    const twilio = interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => twilioCreated() });
    const base = twoProviderEnv({ FAILOVER_AFTER_SECONDS: '1' });
    // One failure at StartMessaging: its circuit stays closed, and the next attempt fails over.
    await deliverSendJobs(withOwnPacer(base).testEnv, [id]);
    expect(sm).toHaveLength(1);

    // StartMessaging's schedule is full for 20 s; Twilio's is free.
    const { testEnv, asked } = withScriptedPacer(
      base,
      pacers(() => ({ slots: [], nextFreeAt: Date.now() + 20_000 })),
    );
    const { result } = await deliverSendJobs(testEnv, [id], 2);
    expect(asked.map((input) => input.ratePerSecond)).toEqual([TWILIO_RATE]);
    expect(result.retryMessages).toEqual([]);
    expect(twilio).toHaveLength(1);
    expect(await requestRow(id)).toMatchObject({ status: 'sent', sent_provider: 'twilio', attempts: 2 });
  });

  it('a call waiting for its time at a provider the batch sees go down moves on at once, without waiting out that time', async () => {
    const requests = await Promise.all(Array.from({ length: 8 }, () => seedRequest()));
    const sm = interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: down });
    const twilio = interceptOrigin(TWILIO_URL, { [TWILIO_SEND_ROUTE]: () => twilioCreated() });
    // Five StartMessaging times now (CIRCUIT_MIN_FAILURES), the other three 15 s later.
    const later = Date.now() + 15_000;
    const { testEnv } = withScriptedPacer(
      twoProviderEnv(),
      pacers((input) => ({ slots: Array.from({ length: input.count }, (_, index) => (index < 5 ? Date.now() : later)), nextFreeAt: later + 100 })),
    );
    await deliverSendJobs(
      testEnv,
      requests.map((request) => request.id),
    );
    expect(sm).toHaveLength(5);
    expect(twilio).toHaveLength(3);
    const twilioStarts = (await Promise.all(requests.map((request) => attemptRows(request.id))))
      .flat()
      .filter((attempt) => attempt.provider === 'twilio')
      .map((attempt) => attempt.started_at);
    expect(twilioStarts).toHaveLength(3);
    // Each started before the StartMessaging time it had been given.
    for (const startedAt of twilioStarts) expect(startedAt).toBeLessThan(later);
  });

  it('its health object hears as soon as the batch sees the provider down, before the batch ends', async () => {
    const requests = await Promise.all(Array.from({ length: 7 }, () => seedRequest()));
    interceptOrigin(PROVIDER_URL, { [SEND_ROUTE]: down });
    const { testEnv } = withOwnPacer(twoProviderEnv({ SEND_CONCURRENCY: '1' }));
    // The circuit as a batch starting alongside this one would read it, when Twilio takes its first call.
    const seenByOthers: string[] = [];
    interceptOrigin(TWILIO_URL, {
      [TWILIO_SEND_ROUTE]: async () => {
        seenByOthers.push((await smHealth(testEnv)).state);
        return twilioCreated();
      },
    });
    await deliverSendJobs(
      testEnv,
      requests.map((request) => request.id),
    );
    expect(seenByOthers).toEqual(['open', 'open']);
    expect(await smHealth(testEnv)).toMatchObject({ state: 'open', failures: 5 });
  });
});
