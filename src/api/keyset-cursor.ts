import { z } from 'zod';
import { base64Url } from '../crypto';
import { ApiError } from '../errors';

/**
 * Opaque page cursors: the (time, id) of the last row of a page, and which listing issued it.
 * Pages read rows strictly before that position, newest first, so rows inserted meanwhile (always
 * newer) never shift a later page: no row is skipped or shown twice.
 */
export type CursorKind = 'requests' | 'attempts' | 'webhook_events';

export interface KeysetPosition {
  at: number;
  id: string | number;
}

const Decoded = z.tuple([z.enum(['requests', 'attempts', 'webhook_events']), z.number().int(), z.union([z.string().max(64), z.number().int()])]);

export function encodeCursor(kind: CursorKind, position: KeysetPosition): string {
  return base64Url(new TextEncoder().encode(JSON.stringify([kind, position.at, position.id])));
}

export function decodeCursor(kind: CursorKind, raw: string): KeysetPosition {
  let parsed: z.infer<typeof Decoded> | undefined;
  try {
    const binary = atob(raw.replace(/-/g, '+').replace(/_/g, '/'));
    parsed = Decoded.parse(JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)))));
  } catch {
    parsed = undefined;
  }
  if (!parsed || parsed[0] !== kind) throw new ApiError('invalid_request', `cursor: is not a cursor of this listing`);
  return { at: parsed[1], id: parsed[2] };
}
