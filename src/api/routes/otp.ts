import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { getRequest } from '../../db/requests';
import { ApiError } from '../../errors';
import { channelOffered } from '../../routing/channels';
import type { AppEnv } from '../app-env';
import { createOtpRequest } from '../create-otp-request';
import { validationHook } from '../error-handler';
import { appAuth } from '../middleware/app-auth';
import { SECRET_KEY_ONLY, SECRET_OR_PUBLISHABLE_KEY, tag } from '../openapi-document';
import { ANY_APP_KEY, ANY_ROUTE, errorResponses, JSON_BODY, responseHeaders, SECRET_KEY } from '../openapi-responses';
import { DESTINATION_TYPE_REFUSALS } from '../refuse-destination';
import { requestView } from '../request-view';
import { requireSecret } from '../required-secret';
import { PhoneNumberSchema, RequestIdSchema, RequestStatusSchema } from '../schemas';
import { stepUpTurnstileCheck, turnstileGate } from '../turnstile-gate';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{8,255}$/;

const CreateBody = z
  .object({
    phoneNumber: PhoneNumberSchema,
    // Optional rather than defaulted: a default would make generated clients require it.
    channel: z.enum(['sms', 'whatsapp', 'auto']).optional().openapi({
      description:
        '`sms` (default), `whatsapp`, or `auto`: WhatsApp first, SMS when the WhatsApp message is not delivered within the app’s `whatsappTimeoutSeconds` (30 s by default). `whatsapp` without a provider that has it is 422 `channel_not_available`.',
    }),
    turnstileToken: z.string().max(4096).optional().openapi({
      description: "The browser's Cloudflare Turnstile token; required with a publishable key when the app sets `turnstileRequired`",
    }),
  })
  .strict()
  .openapi('CreateOtpRequest');

const Accepted = z
  .object({
    requestId: z.string(),
    status: z.literal('queued'),
    expiresAt: z.string().openapi({ format: 'date-time' }),
    statusUrl: z.string().openapi({ format: 'uri' }),
  })
  .openapi('OtpAccepted');

const StatusBody = z
  .object({
    requestId: z.string(),
    status: RequestStatusSchema,
    phoneNumber: z.string().openapi({ example: '+91******3210', description: 'Masked' }),
    attempts: z.number().int().openapi({ description: 'Provider calls made so far' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    updatedAt: z.string().openapi({ format: 'date-time' }),
    expiresAt: z.string().openapi({ format: 'date-time' }),
    channel: z.enum(['sms', 'whatsapp', 'auto']).openapi({ description: 'The channel asked for' }),
    deliveredVia: z
      .object({ provider: z.string().openapi({ example: 'twilio' }), channel: z.enum(['sms', 'whatsapp']) })
      .nullable()
      .openapi({ description: 'The provider and channel the code went out through; null until one accepted it' }),
    lastError: z
      .object({
        code: z.string().openapi({ example: 'provider_unavailable' }),
        message: z.string().openapi({ description: 'A fixed sentence for the code; the provider’s own text is shown to operators only' }),
      })
      .optional()
      .openapi({ description: 'Why the last send failed or the request ended, when it did' }),
  })
  .openapi('OtpStatus');

const createOtp = createRoute({
  method: 'post',
  path: '/v1/otp',
  operationId: 'createOtp',
  tags: tag('Codes'),
  security: SECRET_OR_PUBLISHABLE_KEY,
  summary: 'Request a one-time code',
  description:
    "Takes the app's secret key (backend) or publishable key (browser, from one of the app's allowed origins). " +
    'Validates the number, applies rate limits, records the request and queues the SMS. Answers at once; poll `statusUrl` with the secret key. ' +
    'A number libphonenumber finds impossible for its country answers 400 `phone_not_possible`, one in no assigned range 400 `phone_invalid`; a country the app may not send to 422 `country_not_allowed`, ' +
    'and a landline, premium-rate, shared-cost, toll-free, UAN, pager or voicemail number 422 `phone_fixed_line`, `phone_premium_rate`, … unless the operator admits that type (docs/abuse-defence.md#destinations). ' +
    'A refusal names its reason as the error code: 429 `phone_rate_limited`, `ip_rate_limited`, `prefix_rate_limited`, ' +
    '`prefix_blocked`, `phone_locked`, `app_budget_exhausted` or `conversion_step_up` (a fresh number in a stepped-up country or app, beyond its trickle); 422 `channel_not_available` for `whatsapp` when no provider of the app has it; 400 `turnstile_required`, 403 `turnstile_failed` and 503 `turnstile_unavailable` for an app that requires Turnstile, or for a browser send to a fresh number in a stepped-up scope; 503 `global_budget_exhausted`, `limiter_unavailable` or `service_unavailable`; all with `Retry-After`.',
  request: {
    headers: z.object({
      'idempotency-key': z.string().optional().openapi({
        description:
          '8-255 printable ASCII characters; the same key within 24 h replays the first answer. While the first call with the key is still being created, others get 409 `request_in_progress` with `Retry-After`.',
      }),
    }),
    body: { required: true, content: { 'application/json': { schema: CreateBody } } },
  },
  responses: {
    202: {
      description: 'Queued; `Location` is `statusUrl`. A replay of an `Idempotency-Key` answers the first 202 again, with `Idempotent-Replayed: true`.',
      headers: responseHeaders('Location', 'Idempotent-Replayed'),
      content: { 'application/json': { schema: Accepted } },
    },
    ...errorResponses(ANY_ROUTE, ANY_APP_KEY, JSON_BODY, [
      'invalid_phone_number',
      'phone_not_possible',
      'phone_invalid',
      'invalid_idempotency_key',
      'country_not_allowed',
      ...DESTINATION_TYPE_REFUSALS,
      'idempotency_key_conflict',
      'request_in_progress',
      'phone_rate_limited',
      'ip_rate_limited',
      'prefix_rate_limited',
      'prefix_blocked',
      'phone_locked',
      'app_budget_exhausted',
      'conversion_step_up',
      'turnstile_required',
      'turnstile_failed',
      'turnstile_unavailable',
      'global_budget_exhausted',
      'limiter_unavailable',
      'channel_not_available',
    ]),
  },
});

const getOtp = createRoute({
  method: 'get',
  path: '/v1/otp/{requestId}',
  operationId: 'getOtpStatus',
  tags: tag('Codes'),
  security: SECRET_KEY_ONLY,
  summary: 'Status of a code request',
  description: "The app's secret key only. Another app's request answers 404, as a missing one does.",
  request: { params: z.object({ requestId: RequestIdSchema }) },
  responses: {
    200: { description: 'Status', headers: responseHeaders('Cache-Control'), content: { 'application/json': { schema: StatusBody } } },
    ...errorResponses(ANY_ROUTE, SECRET_KEY, ['not_found']),
  },
});

export const otpRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
// The key is checked before the body or parameters are looked at: an unknown caller learns nothing.
otpRoutes.on('POST', '/v1/otp', appAuth(['secret', 'publishable']));
otpRoutes.on('GET', '/v1/otp/:requestId', appAuth(['secret']));
otpRoutes
  .openapi(createOtp, async (c) => {
    const idempotencyKey = c.req.valid('header')['idempotency-key'];
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new ApiError('invalid_idempotency_key', 'Idempotency-Key must be 8 to 255 printable ASCII characters');
    }
    const { phoneNumber, channel, turnstileToken } = c.req.valid('json');
    const config = c.get('config');
    const caller = c.get('caller');
    if (channel === 'whatsapp' && !channelOffered(config, c.env.DB, caller.settings.providers, 'whatsapp')) {
      throw new ApiError('channel_not_available', 'No provider of this service can send WhatsApp messages; use sms or auto');
    }
    // Refused before any limit is spent: without it no code could be sent or checked.
    requireSecret(config, 'OTP_SECRET', c.req.path);
    const clientIp = c.req.header('CF-Connecting-IP');
    const gate = turnstileGate(config, caller, { token: turnstileToken, clientIp });
    const stepUpCheck = stepUpTurnstileCheck(config, caller, { token: turnstileToken, clientIp });
    const created = await createOtpRequest(c.env, config, caller, { phoneNumber, channel, idempotencyKey, clientIp, gate, stepUpCheck }, (promise) =>
      c.executionCtx.waitUntil(promise),
    );
    const statusUrl = new URL(`/v1/otp/${created.requestId}`, c.req.url).toString();
    c.header('Location', statusUrl);
    if (created.replayed) c.header('Idempotent-Replayed', 'true');
    return c.json({ requestId: created.requestId, status: 'queued' as const, expiresAt: new Date(created.expiresAt).toISOString(), statusUrl }, 202);
  })
  .openapi(getOtp, async (c) => {
    const row = await getRequest(c.env.DB, c.req.valid('param').requestId);
    if (!row || row.app_id !== c.get('caller').appId) throw new ApiError('not_found', 'No such request');
    c.header('Cache-Control', 'no-store');
    return c.json(requestView(row, Date.now()), 200);
  });
