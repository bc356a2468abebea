import { getCountries, getCountryCallingCode, isSupportedCountry } from 'libphonenumber-js/max';

/**
 * Destination countries as ISO 3166-1 alpha-2 codes (`IN`, `US`), from libphonenumber's metadata.
 * Calling codes are not countries: `+1` is the United States, Canada and twenty-odd Caribbean
 * countries at once, so allowing "1" allowed them all. Imports only the library, so that Node can
 * load it (through config-settings.ts) to write the docs.
 */

/** libphonenumber's region of numbers that belong to no country (`+800`, `+882`, …), listable like one. */
export const NON_GEOGRAPHIC = '001';

export function isKnownCountry(code: string): boolean {
  return code === NON_GEOGRAPHIC || isSupportedCountry(code);
}

/** `"1"` → `["US", "AG", "AI", …]`: every country dialled with that calling code. */
export function countriesOfCallingCode(callingCode: string): string[] {
  return getCountries().filter((country) => getCountryCallingCode(country) === callingCode);
}

/** A list of calling codes as the ISO countries it stood for (codes with no country become `001`). */
export function countriesOfCallingCodes(callingCodes: readonly string[]): string[] {
  const countries = new Set<string>();
  for (const code of callingCodes) {
    const found = countriesOfCallingCode(code);
    for (const country of found.length > 0 ? found : [NON_GEOGRAPHIC]) countries.add(country);
  }
  return [...countries];
}
