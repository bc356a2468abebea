import { ApiError } from '../errors';
import { checkDestination, type DestinationPolicy, type DestinationRefusal, REFUSABLE_NUMBER_TYPES } from '../phone-check';

/** The refusals of a number's type, one code per refusable type. */
export const DESTINATION_TYPE_REFUSALS = REFUSABLE_NUMBER_TYPES.map((type) => `phone_${type}` as const);

const MESSAGES: Record<DestinationRefusal, string> = {
  phone_not_possible: 'This number has the wrong length for its country',
  phone_invalid: 'This number is not in any range its country has assigned',
  country_not_allowed: 'Codes cannot be sent to numbers in this country',
  phone_fixed_line: 'This is a landline number, which cannot receive codes by SMS',
  phone_premium_rate: 'This is a premium-rate number, which is not sent codes',
  phone_shared_cost: 'This is a shared-cost number, which is not sent codes',
  phone_toll_free: 'This is a toll-free number, which cannot receive codes by SMS',
  phone_uan: 'This is a universal access number, which cannot receive codes by SMS',
  phone_pager: 'This is a pager number, which cannot receive codes by SMS',
  phone_voicemail: 'This is a voicemail access number, which cannot receive codes by SMS',
};

/**
 * Throws the refusal of a number the app may not send to; the answer names the country, never the
 * number. Answers the ISO country of a number it admits (the conversion scopes count by it).
 */
export function refuseDestination(phoneNumber: string, policy: DestinationPolicy): string {
  const verdict = checkDestination(phoneNumber, policy);
  if (verdict.allowed) return verdict.country;
  const details = { ...(verdict.country ? { country: verdict.country } : {}), ...(verdict.numberType ? { numberType: verdict.numberType } : {}) };
  throw new ApiError(verdict.reason, MESSAGES[verdict.reason], { details });
}
