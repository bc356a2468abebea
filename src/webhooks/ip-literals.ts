/**
 * Which IP address literals a webhook may be posted to: public unicast only. Hostnames reach this
 * as the URL parser wrote them, so every spelling of an IPv4 address (decimal `2130706433`, hex
 * `0x7f.1`, octal, short `127.1`) is already dotted-decimal, and IPv6 is bracketed hex.
 */

export type AddressClass = 'public' | 'private' | 'loopback' | 'link_local' | 'unique_local' | 'reserved';

type Range4 = readonly [first: number, prefixLength: number, kind: Exclude<AddressClass, 'public'>];

const ip4 = (a: number, b: number, c: number, d: number) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

/** Special-purpose IPv4 blocks (IANA registry): none of them is a public receiver. */
const SPECIAL_4: readonly Range4[] = [
  [ip4(0, 0, 0, 0), 8, 'reserved'], // "this network", 0.0.0.0
  [ip4(10, 0, 0, 0), 8, 'private'],
  [ip4(100, 64, 0, 0), 10, 'private'], // carrier-grade NAT
  [ip4(127, 0, 0, 0), 8, 'loopback'],
  [ip4(169, 254, 0, 0), 16, 'link_local'], // includes cloud metadata endpoints
  [ip4(172, 16, 0, 0), 12, 'private'],
  [ip4(192, 0, 0, 0), 24, 'reserved'],
  [ip4(192, 0, 2, 0), 24, 'reserved'], // documentation
  [ip4(192, 88, 99, 0), 24, 'reserved'], // former 6to4 relays
  [ip4(192, 168, 0, 0), 16, 'private'],
  [ip4(198, 18, 0, 0), 15, 'reserved'], // benchmarking
  [ip4(198, 51, 100, 0), 24, 'reserved'], // documentation
  [ip4(203, 0, 113, 0), 24, 'reserved'], // documentation
  [ip4(224, 0, 0, 0), 4, 'reserved'], // multicast
  [ip4(240, 0, 0, 0), 4, 'reserved'], // future use, and the broadcast address
];

/** The address of a dotted-decimal IPv4 literal, or null when `host` is not one. */
export function parseIPv4(host: string): number | null {
  const parts = host.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^(0|[1-9][0-9]{0,2})$/.test(part) && Number(part) <= 255)) return null;
  const [a, b, c, d] = parts.map(Number) as [number, number, number, number];
  return ip4(a, b, c, d);
}

export function classifyIPv4(address: number): AddressClass {
  for (const [first, prefixLength, kind] of SPECIAL_4) {
    const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
    if ((address & mask) >>> 0 === first) return kind;
  }
  return 'public';
}

/** The eight 16-bit groups of an IPv6 literal (brackets optional), or null when it is not one. */
export function parseIPv6(literal: string): number[] | null {
  let text = literal.startsWith('[') && literal.endsWith(']') ? literal.slice(1, -1) : literal;
  if (text.includes('%')) return null; // zone ids never reach a URL's host
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (lastColon !== -1 && text.slice(lastColon + 1).includes('.')) {
    const embedded = parseIPv4(text.slice(lastColon + 1));
    if (embedded === null) return null;
    tail.push(embedded >>> 16, embedded & 0xffff);
    // What comes before it, keeping a `::` it followed: `::ffff:1.2.3.4` → `::ffff`, `::1.2.3.4` → `::`.
    text = text.slice(0, lastColon);
    if (text.endsWith(':')) text += ':';
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (half: string) => (half === '' ? [] : half.split(':'));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if (![...head, ...rest].every((group) => /^[0-9a-f]{1,4}$/i.test(group))) return null;
  const known = head.length + rest.length + tail.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return null;
  const zeros = Array.from({ length: 8 - known }, () => 0);
  return [...head.map((group) => Number.parseInt(group, 16)), ...zeros, ...rest.map((group) => Number.parseInt(group, 16)), ...tail];
}

/**
 * Public unicast IPv6 is global unicast (2000::/3) less its special blocks. Addresses that carry
 * an IPv4 address (IPv4-mapped, NAT64, 6to4) are judged by the IPv4 address they carry.
 */
export function classifyIPv6(groups: readonly number[]): AddressClass {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [number, number, number, number, number, number, number, number];
  const embedded = (high: number, low: number) => classifyIPv4(((high << 16) | low) >>> 0);
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0) {
    if (g5 === 0xffff) return embedded(g6, g7); // ::ffff:a.b.c.d, IPv4-mapped
    if (g5 === 0 && g6 === 0 && g7 === 1) return 'loopback'; // ::1
    return 'reserved'; // ::, and the deprecated IPv4-compatible ::a.b.c.d
  }
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return embedded(g6, g7); // NAT64 64:ff9b::/96
  if ((g0 & 0xfe00) === 0xfc00) return 'unique_local'; // fc00::/7
  if ((g0 & 0xffc0) === 0xfe80) return 'link_local'; // fe80::/10
  if ((g0 & 0xe000) !== 0x2000) return 'reserved'; // outside 2000::/3: multicast, site-local, discard, …
  if (g0 === 0x2002) return embedded(g1, g2); // 6to4 2002::/16
  if (g0 === 0x2001 && g1 < 0x0200) return 'reserved'; // 2001::/23 protocol assignments, Teredo
  if (g0 === 0x2001 && g1 === 0x0db8) return 'reserved'; // documentation
  if ((g0 & 0xfff0) === 0x3ff0) return 'reserved'; // 3fff::/20 documentation
  return 'public';
}
