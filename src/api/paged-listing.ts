import type { Context } from 'hono';
import type { Position } from '../db/audit-queries';
import { ApiError } from '../errors';
import { CSV_MAX_ROWS, JSON_DEFAULT_ROWS, JSON_MAX_ROWS } from './admin-schemas';
import type { AppEnv } from './app-env';
import { toCsv } from './csv';
import { type CursorKind, decodeCursor, encodeCursor } from './keyset-cursor';

const READ_CHUNK_ROWS = 500;

export interface PageRequest {
  cursor?: string;
  limit?: number;
  format: 'json' | 'csv';
}

/** How many rows a listing call returns, refusing a JSON page over the cap with a 400. */
export function rowsWanted(page: PageRequest): number {
  if (page.format === 'csv') return page.limit ?? CSV_MAX_ROWS;
  if (page.limit !== undefined && page.limit > JSON_MAX_ROWS) {
    throw new ApiError('invalid_request', `limit: must be at most ${JSON_MAX_ROWS} (up to ${CSV_MAX_ROWS} with format=csv)`);
  }
  return page.limit ?? JSON_DEFAULT_ROWS;
}

/**
 * Reads `limit` rows after the cursor in index-sized chunks, plus one to learn whether a next page
 * exists, and answers the cursor of that next page.
 */
export async function readPaged<T>(
  kind: CursorKind,
  page: PageRequest,
  fetchRows: (after: Position | null, count: number) => Promise<T[]>,
  positionOf: (row: T) => Position,
): Promise<{ rows: T[]; nextCursor: string | null }> {
  const limit = rowsWanted(page);
  let after = page.cursor ? decodeCursor(kind, page.cursor) : null;
  const rows: T[] = [];
  while (rows.length < limit + 1) {
    const want = Math.min(READ_CHUNK_ROWS, limit + 1 - rows.length);
    const chunk = await fetchRows(after, want);
    rows.push(...chunk);
    if (chunk.length < want) break;
    after = positionOf(chunk.at(-1)!);
  }
  const pageRows = rows.slice(0, limit);
  const nextCursor = rows.length > limit ? encodeCursor(kind, positionOf(pageRows.at(-1)!)) : null;
  return { rows: pageRows, nextCursor };
}

/** The CSV answer of a listing, with the next page's cursor in a header. */
export function csvResponse<T>(
  c: Context<AppEnv>,
  name: string,
  columns: ReadonlyArray<readonly [string, (row: T) => unknown]>,
  rows: T[],
  nextCursor: string | null,
): Response {
  const headers: Record<string, string> = {
    'Content-Type': 'text/csv; charset=utf-8',
    'Content-Disposition': `attachment; filename="${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.csv"`,
    'Cache-Control': 'no-store',
  };
  if (nextCursor) headers['X-Next-Cursor'] = nextCursor;
  return c.body(toCsv(columns, rows), 200, headers);
}
