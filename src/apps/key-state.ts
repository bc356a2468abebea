/**
 * What a key is at `now`, judged as authenticate.ts judges it: a revocation ends it at once; a
 * rotation leaves it working until its `expires_at` (the overlap), then ends it.
 */
export const KEY_STATES = ['active', 'expiring', 'expired', 'revoked'] as const;
export type KeyState = (typeof KEY_STATES)[number];

export function keyState(key: { revoked_at: number | null; expires_at: number | null }, now: number): KeyState {
  if (key.revoked_at !== null && key.revoked_at <= now) return 'revoked';
  if (key.expires_at === null) return 'active';
  return key.expires_at <= now ? 'expired' : 'expiring';
}
