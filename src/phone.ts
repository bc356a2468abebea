/**
 * Phone numbers in strict E.164: a plus sign, a country code that does not start with 0, and at
 * most 15 digits in all. No spaces, dashes or brackets: the API takes what the provider takes.
 */
export const E164_PATTERN = /^\+[1-9]\d{6,14}$/;

export function isE164(value: string): boolean {
  return E164_PATTERN.test(value);
}

/** `+919876543210` → `+91******3210`: enough for a user to recognise, too little to reuse. */
export function maskPhoneNumber(phone: string): string {
  const digits = phone.slice(1);
  const shown = Math.min(4, Math.max(0, digits.length - 6));
  const head = digits.slice(0, 2);
  const tail = digits.slice(digits.length - shown);
  return `+${head}${'*'.repeat(digits.length - head.length - tail.length)}${tail}`;
}

/** Digits of a destination prefix: the limiter's and the pumping defence's unit. */
export const PREFIX_DIGITS = 5;

/**
 * The destination prefix used for statistics and abuse defence: the first digits of the number
 * (country code plus the leading national digits), never enough to identify a subscriber.
 */
export function phonePrefix(phone: string, digits = PREFIX_DIGITS): string {
  return phone.slice(0, 1 + Math.min(digits, phone.length - 1 - 4));
}
