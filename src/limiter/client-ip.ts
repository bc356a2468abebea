/**
 * The rate-limit identity of a client address, or null when the address cannot be read (the
 * caller then puts it in the one shared bucket of unreadable addresses, never in none). IPv6
 * clients get a /64 each (one subscriber's usual allocation), so rotating through a single
 * allocation does not buy new budgets; an IPv4-mapped IPv6 address is its IPv4 address, so
 * writing one address two ways does not buy a second budget either.
 */
export function clientIpKey(ip: string | undefined): string | null {
  const value = ip?.trim();
  if (!value) return null;
  if (!value.includes(':')) return ipv4(value);
  const groups = ipv6Groups(value.toLowerCase());
  if (!groups) return null;
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

/** Dotted decimal with four octets of 0-255 and no leading zeros (which some parsers read as octal). */
function ipv4(value: string): string | null {
  const octets = value.split('.');
  if (octets.length !== 4 || octets.some((octet) => !/^(0|[1-9]\d{0,2})$/.test(octet) || Number(octet) > 255)) return null;
  return octets.join('.');
}

/** The eight 16-bit groups of an IPv6 address (`::` shorthand and a dotted IPv4 tail allowed), or null. */
function ipv6Groups(value: string): number[] | null {
  const halves = value.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string, endsAddress: boolean): number[] | null => {
    if (part === '') return [];
    const texts = part.split(':');
    const groups: number[] = [];
    for (const [index, text] of texts.entries()) {
      if (endsAddress && index === texts.length - 1 && text.includes('.')) {
        const v4 = ipv4(text);
        if (!v4) return null;
        const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
        groups.push((a << 8) | b, (c << 8) | d);
      } else if (/^[0-9a-f]{1,4}$/.test(text)) {
        groups.push(parseInt(text, 16));
      } else {
        return null;
      }
    }
    return groups;
  };
  const head = parse(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? parse(halves[1]!, true) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  return missing >= 1 ? [...head, ...Array<number>(missing).fill(0), ...tail] : null;
}
