import { z } from '@hono/zod-openapi';
import { ErrorCode } from '../errors';
import { REQUEST_ID_PATTERN } from '../ids';
import { E164_PATTERN } from '../phone';

export const ErrorBodySchema = z
  .object({
    error: z
      .object({
        code: ErrorCode,
        message: z.string(),
        requestId: z.string().openapi({ description: 'Trace id of this API call, also sent as `X-Request-Id`' }),
      })
      .catchall(z.unknown()),
  })
  .openapi('Error');

export const PhoneNumberSchema = z
  .string({ error: 'is required and must be a string' })
  .regex(E164_PATTERN, { error: 'must be in E.164 format, for example +919876543210' })
  .openapi({ example: '+919876543210', description: 'E.164: +, country code, subscriber number; no spaces' });

export const RequestIdSchema = z
  .string()
  .regex(REQUEST_ID_PATTERN, { error: 'is not a valid request id' })
  .openapi({ example: 'otp_3q2-7wEjQ1mB0Yk5c9f8Zg', param: { name: 'requestId', in: 'path' } });

export const RequestStatusSchema = z.enum(['queued', 'sending', 'sent', 'delivered', 'failed', 'expired', 'verified', 'superseded']).openapi('RequestStatus');
