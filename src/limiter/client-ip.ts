/**
 * The rate-limit identity of a client address. IPv6 clients get a /64 each (one subscriber's
 * usual allocation), so rotating through a single allocation does not buy new budgets.
 */
export function clientIpKey(ip: string | undefined): string | null {
  const value = ip?.trim();
  if (!value) return null;
  if (!value.includes(':')) return /^\d{1,3}(\.\d{1,3}){3}$/.test(value) ? value : null;
  const [head = '', tail = ''] = value.toLowerCase().split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = value.includes('::') ? [...headGroups, ...Array(Math.max(0, missing)).fill('0'), ...tailGroups] : headGroups;
  if (groups.length !== 8 || groups.some((group) => !/^[0-9a-f]{1,4}$/.test(group))) return null;
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
