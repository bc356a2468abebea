import { countryCallingCode } from '../country-codes';

/**
 * The scopes whose conversion is watched beyond the prefix: the number's country, the calling
 * app, and the whole deployment. A scope is named by a string (`country:+91`, `app:app_x`, `all`)
 * that is the key of its counters and its state in the `ScopeLedger`.
 */

export const ALL_SCOPE = 'all';

/** Scope names as the admin API accepts them. */
export const SCOPE_PATTERN = /^(all|country:\+[1-9]\d{0,3}|country:[A-Z]{2}|app:app_[A-Za-z0-9_-]{1,40})$/;

/**
 * The number's country, as a scope. The one place that decides what a country is: today the
 * calling code (`+91`; `+1` spans NANP countries), swappable for an ISO country of the number.
 */
export function countryScopeOf(phoneNumber: string): string {
  return `country:${countryCallingCode(phoneNumber)}`;
}

/** Every scope one send counts in, narrowest first (the one a refusal names when several are stepped up). */
export function scopesOf(phoneNumber: string, appId: string | null | undefined): string[] {
  return [countryScopeOf(phoneNumber), ...(appId ? [`app:${appId}`] : []), ALL_SCOPE];
}
