import { countryCallingCode } from '../country-codes';
import { countryOf } from '../phone-check';

/**
 * The scopes whose conversion is watched beyond the prefix: the number's country, the calling
 * app, and the whole deployment. A scope is named by a string (`country:IN`, `app:app_x`, `all`)
 * that is the key of its counters and its state in the `ScopeLedger`.
 */

export const ALL_SCOPE = 'all';

/** Scope names as the admin API accepts them. */
export const SCOPE_PATTERN = /^(all|country:\+[1-9]\d{0,3}|country:[A-Z]{2}|country:001|app:app_[A-Za-z0-9_-]{1,40})$/;

/**
 * The number's country, as a scope: its ISO country from libphonenumber (`country:US` and
 * `country:JM` are two scopes though both dial +1), `country:001` for non-geographic numbers, and
 * the calling code (`country:+1`) only for a number libphonenumber cannot place (the sandbox's
 * fictional ones; real sends are valid numbers by then).
 */
export function countryScopeOf(phoneNumber: string, knownCountry: string | null = null): string {
  return `country:${knownCountry ?? countryOf(phoneNumber) ?? countryCallingCode(phoneNumber)}`;
}

/**
 * Every scope one send counts in, narrowest first (the one a refusal names when several are stepped
 * up). `knownCountry`: the ISO country the destination check already found, to spare a second parse.
 */
export function scopesOf(phoneNumber: string, appId: string | null | undefined, knownCountry: string | null = null): string[] {
  return [countryScopeOf(phoneNumber, knownCountry), ...(appId ? [`app:${appId}`] : []), ALL_SCOPE];
}
