import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { parseStoredSettings } from '../src/apps/app-settings';
import { ConfigError, loadConfig } from '../src/config';
import { SANDBOX_MAGIC_NUMBERS } from '../src/providers/sandbox';
import { makeApp, withKey } from './support/apps';
import { uniquePhone } from './support/fixtures';
import { fetchWithEnv } from './support/worker';

/** POST /v1/otp with the given key, through the real Worker with `vars` over the test env. */
async function send(phoneNumber: string, options: { vars?: Record<string, string>; key?: string } = {}) {
  const request = new Request('https://otp.test/v1/otp', {
    method: 'POST',
    headers: withKey({ 'Content-Type': 'application/json' }, options.key),
    body: JSON.stringify({ phoneNumber }),
  });
  const response = await fetchWithEnv(request, { ...env, ...options.vars } as Env);
  return { status: response.status, body: await response.json<{ error?: { code: string; country?: string; numberType?: string } }>() };
}

// Each number's verdict is libphonenumber's (max metadata); they stand for their kind.
const IMPOSSIBLE = '+9112345'; // seven digits: no Indian number is that short, yet E.164 syntax allows it
const UNASSIGNED = '+15550100000'; // the right length for +1, but area code 555 is assigned to nobody
const DELHI_LANDLINE = '+911123456789';
const US_PREMIUM = '+19005551234';
const FRENCH_SHARED_COST = '+33810123456';
const US_TOLL_FREE = '+18005551234';
// A number of its own per call, so that per-phone limits never refuse before the check does.
let counter = 1000;
/** Washington DC, fixed line or mobile: the US plan cannot tell them apart, so they pass. */
const usNumber = () => `+1202555${++counter}`;
/** +1 like the US, but Jamaica. */
const jamaicanMobile = () => `+1876555${++counter}`;

describe('numbers libphonenumber refuses', () => {
  it.each([
    ['impossible for its country', IMPOSSIBLE, 400, 'phone_not_possible'],
    ['in no assigned range', UNASSIGNED, 400, 'phone_invalid'],
    ['a landline', DELHI_LANDLINE, 422, 'phone_fixed_line'],
    ['premium-rate', US_PREMIUM, 422, 'phone_premium_rate'],
    ['shared-cost', FRENCH_SHARED_COST, 422, 'phone_shared_cost'],
    ['toll-free', US_TOLL_FREE, 422, 'phone_toll_free'],
  ])('a number %s is refused with its own code', async (_kind, phone, status, code) => {
    const { status: answered, body } = await send(phone);
    expect([answered, body.error?.code]).toEqual([status, code]);
  });

  it('malformed syntax keeps its code, invalid_phone_number', async () => {
    const { status, body } = await send('+91 98765 43210');
    expect([status, body.error?.code]).toEqual([400, 'invalid_phone_number']);
  });

  it('fixed-line-or-mobile (US) and mobile numbers pass', async () => {
    expect((await send(usNumber())).status).toBe(202);
    expect((await send(uniquePhone())).status).toBe(202);
  });

  it('an operator admits refused types, for the deployment or for one app', async () => {
    const vars = { ALLOWED_NUMBER_TYPES: 'fixed_line,premium_rate' };
    expect((await send(DELHI_LANDLINE, { vars })).status).toBe(202);
    expect((await send(US_PREMIUM, { vars })).status).toBe(202);
    // Shared-cost was not listed: still refused.
    expect((await send(FRENCH_SHARED_COST, { vars })).body.error?.code).toBe('phone_shared_cost');

    const app = await makeApp({ allowedNumberTypes: ['shared_cost'] });
    expect((await send(FRENCH_SHARED_COST, { key: app.secretKey })).status).toBe(202);
    // The app's list replaces the deployment's: landlines stay refused for it.
    expect((await send('+911123456780', { key: app.secretKey })).body.error?.code).toBe('phone_fixed_line');
  });
});

describe('allowed and blocked countries are ISO countries', () => {
  it('a NANP number outside the allowed countries is refused, naming its country', async () => {
    const vars = { ALLOWED_COUNTRIES: 'US' };
    expect((await send(usNumber(), { vars })).status).toBe(202);
    const { status, body } = await send(jamaicanMobile(), { vars });
    expect([status, body.error?.code, body.error?.country]).toEqual([422, 'country_not_allowed', 'JM']);
  });

  it('a blocked country is refused even when every country is allowed, and for every app', async () => {
    const vars = { BLOCKED_COUNTRIES: 'JM' };
    const app = await makeApp({ allowedCountries: ['US', 'JM'] });
    expect((await send(jamaicanMobile(), { vars })).body.error?.code).toBe('country_not_allowed');
    expect((await send(jamaicanMobile(), { vars, key: app.secretKey })).body.error?.code).toBe('country_not_allowed');
    expect((await send(usNumber(), { vars, key: app.secretKey })).status).toBe(202);
  });

  it('an app’s allowed countries replace the deployment’s', async () => {
    const app = await makeApp({ allowedCountries: ['JM'] });
    const vars = { ALLOWED_COUNTRIES: 'IN' };
    expect((await send(jamaicanMobile(), { vars, key: app.secretKey })).status).toBe(202);
    expect((await send(usNumber(), { vars, key: app.secretKey })).body.error?.code).toBe('country_not_allowed');
  });

  it('calling codes in the retired ALLOWED_COUNTRY_CODES stop the Worker, naming the countries they stood for', () => {
    const attempt = () => loadConfig({ ...env, ALLOWED_COUNTRY_CODES: '1' } as Env);
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/ALLOWED_COUNTRY_CODES is retired: set ALLOWED_COUNTRIES .*JM,.*US/);
    expect(() => loadConfig({ ...env, ALLOWED_COUNTRIES: 'IN,XX' } as Env)).toThrow(/ALLOWED_COUNTRIES takes ISO 3166-1 alpha-2 countries.*"XX"/);
  });

  it('an app’s stored calling codes are read as the countries they stood for', async () => {
    expect(parseStoredSettings(JSON.stringify({ allowedCountryCodes: ['91', '44'], otpLength: 6 }))).toEqual({
      allowedCountries: ['IN', 'GB', 'GG', 'IM', 'JE'],
      otpLength: 6,
    });
    const app = await makeApp();
    await env.DB.prepare('UPDATE apps SET settings_json = ?2 WHERE id = ?1')
      .bind(app.id, JSON.stringify({ allowedCountryCodes: ['44'] }))
      .run();
    expect((await send(uniquePhone(), { key: app.secretKey })).body.error?.code).toBe('country_not_allowed');
    expect((await send('+447400123456', { key: app.secretKey })).status).toBe(202);
  });
});

describe('numbers that reach no real phone are not judged', () => {
  it('the sandbox’s magic numbers (an unassigned +1 555 range) pass in sandbox mode only', async () => {
    expect((await send(SANDBOX_MAGIC_NUMBERS.rejected)).status).toBe(202);
    const { body } = await send(SANDBOX_MAGIC_NUMBERS.rejected, { vars: { PROVIDER_MODE: 'startmessaging', SM_API_KEY: 'k' } });
    expect(body.error?.code).toBe('phone_invalid');
  });

  it('an app’s test numbers pass whatever their range or country', async () => {
    const app = await makeApp({ allowedCountries: ['IN'], testNumbers: [{ phoneNumber: UNASSIGNED, code: '2468' }] });
    expect((await send(UNASSIGNED, { key: app.secretKey })).status).toBe(202);
  });
});
