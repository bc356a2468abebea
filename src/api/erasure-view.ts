import { z } from '@hono/zod-openapi';
import { ERASED_TABLES } from '../db/erasures';
import { type ErasureOrder, type ErasureRecord, erasePhone } from '../erasure/erase-phone';
import { ApiError } from '../errors';
import { errorName, logError } from '../log';

/** The answer to an erasure, and each entry of the operators' list: never the number. */
export const ErasureSchema = z
  .object({
    erasureId: z.string().openapi({ example: 'era_Xq2-7wEjQ1mB0Yk5' }),
    at: z.string().openapi({ format: 'date-time' }),
    actor: z.string().openapi({ description: "The operator (`X-Operator`, else `admin`), or the id of the app's secret key that asked" }),
    appId: z.string().nullable().openapi({ description: "Only this app's requests were erased; null: everything held for the number" }),
    rows: z.record(z.string(), z.number().int()).openapi({
      description: `Rows erased per table (${ERASED_TABLES.join(', ')}) and per limiter log (\`limiter.sends\`, \`limiter.phone_sends\`, \`limiter.verify_failures\`)`,
      example: { otp_requests: 2, delivery_attempts: 2, 'limiter.phone_sends': 2 },
    }),
    total: z.number().int().openapi({ description: 'All rows erased; 0 when nothing was held (a repeated erasure)' }),
  })
  .openapi('Erasure');

export function erasureView(record: ErasureRecord) {
  const total = Object.values(record.rows).reduce((sum, count) => sum + count, 0);
  return { erasureId: record.id, at: new Date(record.at).toISOString(), actor: record.actor, appId: record.appId, rows: record.rows, total };
}

/** Runs an erasure; storage that fails midway answers 503, and repeating the call finishes it. */
export async function eraseOrRefuse(env: Env, order: ErasureOrder): Promise<ErasureRecord> {
  try {
    return await erasePhone(env, order);
  } catch (error) {
    logError('erasure.failed', { appId: order.appId, error: errorName(error) });
    throw new ApiError('service_unavailable', 'The erasure could not be completed; repeat it, which is safe', { headers: { 'Retry-After': '5' } });
  }
}
