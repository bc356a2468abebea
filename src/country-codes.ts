import { getCountries, getCountryCallingCode } from 'libphonenumber-js/max';

/**
 * ITU-T E.164 country calling codes are one, two or three digits and form a prefix code, so the
 * length follows from the first digits. The one- and two-digit codes come from libphonenumber's
 * metadata (`1` and `7`, then `20` to `98`); every other code, non-geographic ones included, has three.
 * Statistics group by these; which destinations may be sent to is decided by ISO country
 * (phone-check.ts), not here.
 */
const CALLING_CODES = [...new Set(getCountries().map((country) => getCountryCallingCode(country)))].sort();
const ONE_DIGIT = CALLING_CODES.filter((code) => code.length === 1);
const TWO_DIGITS = CALLING_CODES.filter((code) => code.length === 2);

/** `+919876543210` → `+91`. Works on a stored phone prefix too, which keeps at least three digits. */
export function countryCallingCode(phone: string): string {
  if (ONE_DIGIT.includes(phone.slice(1, 2))) return phone.slice(0, 2);
  if (TWO_DIGITS.includes(phone.slice(1, 3))) return phone.slice(0, 3);
  return phone.slice(0, 4);
}

/** The same as `countryCallingCode`, as an SQL expression over `column`, so grouping stays in D1. */
export function countryCallingCodeSql(column: string): string {
  const list = (codes: string[]) => codes.map((code) => `'${code}'`).join(', ');
  return `CASE WHEN substr(${column}, 2, 1) IN (${list(ONE_DIGIT)}) THEN substr(${column}, 1, 2)
    WHEN substr(${column}, 2, 2) IN (${list(TWO_DIGITS)}) THEN substr(${column}, 1, 3)
    ELSE substr(${column}, 1, 4) END`;
}
