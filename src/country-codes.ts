/**
 * ITU-T E.164 country calling codes are one, two or three digits and form a prefix code, so the
 * length follows from the first digits: these are all the one- and two-digit codes, and every
 * other code has three digits.
 */
const ONE_DIGIT = ['1', '7'];
const TWO_DIGITS = [
  '20',
  '27',
  '30',
  '31',
  '32',
  '33',
  '34',
  '36',
  '39',
  '40',
  '41',
  '43',
  '44',
  '45',
  '46',
  '47',
  '48',
  '49',
  '51',
  '52',
  '53',
  '54',
  '55',
  '56',
  '57',
  '58',
  '60',
  '61',
  '62',
  '63',
  '64',
  '65',
  '66',
  '81',
  '82',
  '84',
  '86',
  '90',
  '91',
  '92',
  '93',
  '94',
  '95',
  '98',
];

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
