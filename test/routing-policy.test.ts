import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { providerOrder } from '../src/config-providers';
import { chooseProvider, type PastAttempt, type ProviderStatus, requestOrder } from '../src/routing/routing-policy';

const sm: ProviderStatus = { name: 'startmessaging', idempotent: true, channels: ['sms'], circuit: 'closed', probe: false, drained: false };
const tw: ProviderStatus = { name: 'twilio', idempotent: false, channels: ['sms', 'whatsapp'], circuit: 'closed', probe: false, drained: false };
const failed = (provider: string, ambiguous = false, channel: 'sms' | 'whatsapp' = 'sms'): PastAttempt => ({
  provider,
  channel,
  outcome: 'transient',
  ambiguous,
});

describe('routing policy', () => {
  it('a fresh request goes to the first provider', () => {
    expect(chooseProvider({ providers: [sm, tw], attempts: [], channel: 'sms' })).toEqual({ provider: 'startmessaging', why: 'first_choice' });
  });

  it('after a transient failure the next attempt fails over to the next provider, then wraps round', () => {
    expect(chooseProvider({ providers: [sm, tw], attempts: [failed('startmessaging')], channel: 'sms' })).toEqual({ provider: 'twilio', why: 'failover' });
    expect(chooseProvider({ providers: [sm, tw], attempts: [failed('startmessaging'), failed('twilio')], channel: 'sms' })).toEqual({
      provider: 'startmessaging',
      why: 'failover',
    });
  });

  it('with one provider a transient failure is retried on it', () => {
    expect(chooseProvider({ providers: [sm], attempts: [failed('startmessaging')], channel: 'sms' })).toMatchObject({ provider: 'startmessaging' });
  });

  it('an open circuit is skipped from the first attempt; a half-open one only by the caller holding its probe', () => {
    const open = { ...sm, circuit: 'open' as const };
    expect(chooseProvider({ providers: [open, tw], attempts: [], channel: 'sms' })).toEqual({ provider: 'twilio', why: 'circuit_open' });
    expect(chooseProvider({ providers: [{ ...sm, circuit: 'half_open' }, tw], attempts: [], channel: 'sms' })).toMatchObject({ provider: 'twilio' });
    expect(chooseProvider({ providers: [{ ...sm, circuit: 'half_open', probe: true }, tw], attempts: [], channel: 'sms' })).toMatchObject({
      provider: 'startmessaging',
    });
  });

  it('every circuit open: the first one all the same, an outage is retried rather than waited out', () => {
    const providers = [
      { ...sm, circuit: 'open' as const },
      { ...tw, circuit: 'open' as const },
    ];
    expect(chooseProvider({ providers, attempts: [], channel: 'sms' })).toEqual({ provider: 'startmessaging', why: 'all_circuits_open' });
  });

  it('after an ambiguous Twilio outcome Twilio is never called again for the request; an idempotent provider is', () => {
    expect(chooseProvider({ providers: [tw, sm], attempts: [failed('twilio', true)], channel: 'sms' })).toMatchObject({ provider: 'startmessaging' });
    expect(chooseProvider({ providers: [tw, sm], attempts: [failed('twilio', true), failed('startmessaging')], channel: 'sms' })).toMatchObject({
      provider: 'startmessaging',
    });
    expect(chooseProvider({ providers: [tw], attempts: [failed('twilio', true)], channel: 'sms' })).toEqual({ none: 'outcome_unknown' });
    expect(chooseProvider({ providers: [sm], attempts: [failed('startmessaging', true)], channel: 'sms' })).toMatchObject({ provider: 'startmessaging' });
    // A WhatsApp message that may exist says nothing about an SMS.
    expect(chooseProvider({ providers: [tw], attempts: [failed('twilio', true, 'whatsapp')], channel: 'sms' })).toMatchObject({ provider: 'twilio' });
  });

  it('drained providers are skipped; with every one drained the request waits', () => {
    expect(chooseProvider({ providers: [{ ...sm, drained: true }, tw], attempts: [], channel: 'sms' })).toMatchObject({ provider: 'twilio' });
    expect(chooseProvider({ providers: [{ ...sm, drained: true }], attempts: [], channel: 'sms' })).toEqual({ none: 'all_drained' });
  });

  it('only providers with the channel are considered', () => {
    expect(chooseProvider({ providers: [sm, tw], attempts: [], channel: 'whatsapp' })).toMatchObject({ provider: 'twilio' });
    expect(chooseProvider({ providers: [sm], attempts: [], channel: 'whatsapp' })).toEqual({ none: 'no_provider_for_channel' });
  });

  it("an app's order reorders or narrows the deployment's, never adds to it", () => {
    expect(requestOrder(['startmessaging', 'twilio'], null)).toEqual(['startmessaging', 'twilio']);
    expect(requestOrder(['startmessaging', 'twilio'], ['twilio', 'startmessaging'])).toEqual(['twilio', 'startmessaging']);
    expect(requestOrder(['startmessaging'], ['twilio', 'startmessaging'])).toEqual(['startmessaging']);
    expect(requestOrder(['startmessaging'], ['twilio'])).toEqual(['startmessaging']);
  });
});

describe('PROVIDER_ORDER', () => {
  const withVars = (vars: Record<string, string>) => ({ ...env, ...vars }) as Env;
  const twilioVars = { TWILIO_ACCOUNT_SID: `AC${'1'.repeat(32)}`, TWILIO_FROM: '+15005550006' };

  it('defaults to the mode’s one provider; takes names in order', () => {
    expect(providerOrder(loadConfig(withVars({})))).toEqual(['sandbox']);
    expect(providerOrder(loadConfig(withVars({ PROVIDER_MODE: 'startmessaging' })))).toEqual(['startmessaging']);
    expect(providerOrder(loadConfig(withVars({ PROVIDER_MODE: 'startmessaging', PROVIDER_ORDER: 'twilio, startmessaging', ...twilioVars })))).toEqual([
      'twilio',
      'startmessaging',
    ]);
  });

  it.each([
    [{ PROVIDER_ORDER: 'sandbox,vonage' }, /PROVIDER_ORDER takes names of/],
    [{ PROVIDER_ORDER: 'sandbox,sandbox' }, /names each provider once/],
    [{ PROVIDER_ORDER: 'startmessaging' }, /PROVIDER_MODE=sandbox does not have/],
    [{ PROVIDER_MODE: 'startmessaging', PROVIDER_ORDER: 'sandbox' }, /PROVIDER_MODE=startmessaging does not have/],
    [{ PROVIDER_MODE: 'startmessaging', PROVIDER_ORDER: 'twilio' }, /TWILIO_ACCOUNT_SID must be set/],
    [{ PROVIDER_MODE: 'startmessaging', PROVIDER_ORDER: 'twilio', TWILIO_ACCOUNT_SID: `AC${'1'.repeat(32)}` }, /TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID/],
  ])('refuses %j', (vars, message) => {
    expect(() => loadConfig(withVars(vars))).toThrow(message);
  });
});
