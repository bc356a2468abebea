import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { NON_GEOGRAPHIC } from './countries.ts';

/**
 * Whether a number in E.164 syntax may be sent a code: possible and valid for its country
 * (libphonenumber's `max` metadata, the smallest set that knows number types), in an allowed
 * country, and of a type that receives SMS. Imports only the library and countries.ts, so that
 * Node can load it (through config-settings.ts) to write the docs.
 */

/**
 * Types refused unless an operator admits them: landlines, numbers that charge the sender or are
 * shared by many subscribers, and those that take no SMS of their own. Mobile, fixed-line-or-mobile
 * (US and India cannot tell them apart), VoIP and personal numbers always pass.
 */
export const REFUSABLE_NUMBER_TYPES = ['fixed_line', 'premium_rate', 'shared_cost', 'toll_free', 'uan', 'pager', 'voicemail'] as const;
export type RefusableNumberType = (typeof REFUSABLE_NUMBER_TYPES)[number];

export interface DestinationPolicy {
  /** ISO countries (and `001`) that may receive codes; null: any. */
  allowedCountries: readonly string[] | null;
  /** Refused even when allowed above. */
  blockedCountries: readonly string[];
  /** Refusable types admitted anyway. */
  allowedNumberTypes: readonly RefusableNumberType[];
}

export type RefusedNumberReason = `phone_${RefusableNumberType}`;
export type DestinationRefusal = 'phone_not_possible' | 'phone_invalid' | 'country_not_allowed' | RefusedNumberReason;

export type DestinationVerdict =
  | { allowed: true; country: string }
  | { allowed: false; reason: DestinationRefusal; country: string | null; numberType?: RefusableNumberType };

/**
 * The ISO country of a valid number (`001` for a non-geographic one), or null when libphonenumber
 * cannot place it (an invalid number, such as the sandbox's fictional ones).
 */
export function countryOf(e164: string): string | null {
  const parsed = parsePhoneNumberFromString(e164);
  if (!parsed?.isValid()) return null;
  return parsed.country ?? NON_GEOGRAPHIC;
}

/** Decides one number already in E.164 syntax (`E164_PATTERN`). */
export function checkDestination(e164: string, policy: DestinationPolicy): DestinationVerdict {
  const parsed = parsePhoneNumberFromString(e164);
  // Too short or too long for every numbering plan of its calling code.
  if (!parsed?.isPossible()) return { allowed: false, reason: 'phone_not_possible', country: parsed?.country ?? null };
  // The right length, but in no range the country has assigned.
  if (!parsed.isValid()) return { allowed: false, reason: 'phone_invalid', country: parsed.country ?? null };
  const country = parsed.country ?? NON_GEOGRAPHIC;
  const countryAllowed = (policy.allowedCountries === null || policy.allowedCountries.includes(country)) && !policy.blockedCountries.includes(country);
  if (!countryAllowed) return { allowed: false, reason: 'country_not_allowed', country };
  const numberType = refusableType(parsed.getType());
  if (numberType && !policy.allowedNumberTypes.includes(numberType)) {
    return { allowed: false, reason: `phone_${numberType}`, country, numberType };
  }
  return { allowed: true, country };
}

function refusableType(type: string | undefined): RefusableNumberType | undefined {
  const lower = type?.toLowerCase();
  return REFUSABLE_NUMBER_TYPES.find((candidate) => candidate === lower);
}
