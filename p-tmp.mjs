import { parsePhoneNumberFromString as p } from 'libphonenumber-js/max';
for (const l of process.argv.slice(2)) { const n = p(l); console.log(l, n?.country, n?.isPossible(), n?.isValid(), n?.isValid()?n.getType():''); }
