/**
 * Phone numbers the service accepts, for the scripts and benchmarks that make them: the Worker's
 * own check (src/phone-check.ts, libphonenumber) with the default destinations, so a generator
 * that drifts into a landline or an unassigned range is caught here, not by a 4xx mid-run.
 */
import { checkDestination } from '../../src/phone-check.ts';

const DEFAULT_DESTINATIONS = { allowedCountries: null, blockedCountries: [], allowedNumberTypes: [] };

export const isSendable = (phone) => checkDestination(phone, DEFAULT_DESTINATIONS).allowed;

/** Throws when any of `phones` would be refused: a generator's mistake, named before the run. */
export function assertSendable(phones, what) {
  const refused = phones.filter((phone) => !isSendable(phone));
  if (refused.length > 0) throw new Error(`${what}: ${refused.length} numbers the service refuses, e.g. ${refused.slice(0, 3).join(', ')}`);
  return phones;
}

/**
 * NANP area codes in which every number +1 NPA [2-9]XX XXXX sampled here is accepted (US and
 * Canadian ranges mostly; Caribbean plans that tell landlines apart, and area codes with
 * unassigned exchanges, drop out). About 1.5 s of CPU: call it once.
 */
export function sendableNanpAreaCodes() {
  const codes = [];
  for (let npa = 200; npa <= 999; npa += 1) {
    const samples = [];
    for (let first = 2; first <= 9; first += 1) {
      for (const rest of ['00', '07', '11', '55', '60', '99']) for (const line of ['0000', '5432', '9999']) samples.push(`+1${npa}${first}${rest}${line}`);
    }
    if (samples.every(isSendable)) codes.push(npa);
  }
  return codes;
}

/** Indian mobile leads (+91 and two digits) in which every number is a mobile one; parts of 6x-8x are landlines. */
export const INDIAN_MOBILE_LEADS = ['60', '69', '70', '72', '74', '84', '85', '90', '91', '92', '93', '94', '95', '96', '97', '98', '99'];
