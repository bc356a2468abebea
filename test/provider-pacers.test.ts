import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { pacerName, providerRate, providerSlots } from '../src/pacing/provider-slots';

const twoVendors = {
  ...env,
  PROVIDER_MODE: 'startmessaging',
  PROVIDER_ORDER: 'startmessaging,twilio',
  TWILIO_ACCOUNT_SID: `AC${'1'.repeat(32)}`,
  TWILIO_FROM: '+15005550006',
  PROVIDER_RATE_PER_SECOND: '20',
  TWILIO_RATE_PER_SECOND: '2',
} as Env;

describe('a pacer per provider', () => {
  it('each provider has its own pacer and rate; the first keeps the single pacer’s name', () => {
    const config = loadConfig(twoVendors);
    expect([pacerName('startmessaging'), pacerName('sandbox'), pacerName('twilio'), pacerName('sandbox-backup')]).toEqual([
      'provider',
      'provider',
      'provider:twilio',
      'provider:sandbox-backup',
    ]);
    expect([providerRate(config, 'startmessaging'), providerRate(config, 'twilio')]).toEqual([20, 2]);
  });

  it("one provider's full schedule does not hold back another's, and each is paced at its own rate", async () => {
    const config = loadConfig(twoVendors);
    const startMessaging = await providerSlots(twoVendors, config, 'startmessaging')(20, 0);
    const twilio = await providerSlots(twoVendors, config, 'twilio')(3, 0);
    expect(startMessaging.slots).toHaveLength(20);
    // Twilio's first time is not after StartMessaging's twenty: its pacer is another object.
    expect(twilio.slots[0]!).toBeLessThan(startMessaging.slots.at(-1)!);
    // At 2/s the third time is a planned window (1.15 s) after the first.
    expect(twilio.slots[2]! - twilio.slots[0]!).toBeGreaterThanOrEqual(1150);
  });
});
