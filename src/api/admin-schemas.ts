import { z } from '@hono/zod-openapi';
import { APP_ID_PATTERN } from '../ids';
import { PhoneNumberSchema } from './schemas';

/** Query parameters the admin listings share. */

/** JSON pages hold at most this many rows; a CSV export up to CSV_MAX_ROWS. */
export const JSON_MAX_ROWS = 500;
export const CSV_MAX_ROWS = 10_000;
export const JSON_DEFAULT_ROWS = 50;

/** An instant as ISO 8601 (`2026-11-26T10:00:00Z`) or epoch milliseconds. */
export const TimeParam = z
  .string()
  .openapi({ example: '2026-11-26T00:00:00Z', description: 'ISO 8601 date-time, or epoch milliseconds' })
  .transform((raw, ctx) => {
    const value = /^\d{1,15}$/.test(raw) ? Number(raw) : /^\d{4}-\d{2}-\d{2}/.test(raw) ? Date.parse(raw) : Number.NaN;
    if (!Number.isFinite(value)) {
      ctx.addIssue({ code: 'custom', message: 'must be an ISO 8601 date-time or epoch milliseconds' });
      return z.NEVER;
    }
    return value;
  });

/** A `+` in a query string reads as a space unless encoded as %2B: accept both. */
export const PhoneQueryParam = z
  .string()
  .openapi({ example: '+919876543210', description: 'E.164; encode the + as %2B (a bare + also works)' })
  .transform((raw) => raw.replace(/^ (?=\d)/, '+'))
  .pipe(PhoneNumberSchema);

/** A comma-separated list of values from `options`, such as `failed,expired`. */
export function listParam<const T extends readonly [string, ...string[]]>(options: T, description: string) {
  const item = z.enum(options);
  return z
    .string()
    .openapi({ description: `${description}; comma-separated, any of ${options.join(', ')}`, example: options[0] })
    .transform((raw, ctx) => {
      const values = raw
        .split(',')
        .map((value) => value.trim())
        .filter(Boolean);
      const parsed = values.map((value) => item.safeParse(value));
      if (values.length === 0 || parsed.some((result) => !result.success)) {
        ctx.addIssue({ code: 'custom', message: `must be one or more of ${options.join(', ')}, comma-separated` });
        return z.NEVER;
      }
      return [...new Set(values)] as Array<T[number]>;
    });
}

/** One app's id (`app_…`), exactly: the operators' listings, statistics and resends filter by it. */
export const AppIdParam = z
  .string()
  .regex(APP_ID_PATTERN, { error: 'is not a valid app id' })
  .openapi({ example: 'app_localdev', description: 'Only this app’s requests (an exact app id)' });

export const ErrorCodeParam = z
  .string()
  .regex(/^[a-z0-9_]{1,64}$/, { error: 'must be a snake_case error code' })
  .openapi({ example: 'provider_unavailable' });

export const PageParams = {
  cursor: z.string().max(200).optional().openapi({ description: 'The `nextCursor` of the previous page' }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(CSV_MAX_ROWS)
    .optional()
    .openapi({ description: `Rows per page: ${JSON_DEFAULT_ROWS} by default, at most ${JSON_MAX_ROWS} (with format=csv: all up to ${CSV_MAX_ROWS})` }),
  format: z.enum(['json', 'csv']).default('json').openapi({ description: 'csv: the same query as a spreadsheet file' }),
};

export const PageSchema = { nextCursor: z.string().nullable().openapi({ description: 'Pass as `cursor` for the next page; null on the last' }) };
