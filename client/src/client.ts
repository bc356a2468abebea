import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './api-types.ts';
import { apiError } from './errors.ts';
import { type TokenCheck, tokenVerifier, type VerifiedToken } from './tokens.ts';
import { type Clock, systemClock, type WaitOptions, waitFor } from './wait.ts';
import { verifyWebhook, type WebhookEvent } from './webhooks.ts';

type Schemas = components['schemas'];
export type OtpAccepted = Schemas['OtpAccepted'];
export type OtpStatus = Schemas['OtpStatus'];
export type RequestStatus = Schemas['RequestStatus'];
export type Verified = Schemas['Verified'];

export interface OtpClientOptions {
  /** The service's origin, e.g. `https://otp.example.com` (locally `http://localhost:8787`). */
  baseUrl: string;
  /** The app's secret key (`sk_…`, backends) or publishable key (`pk_…`, browsers on an allowed origin). */
  key: string;
  /** The fetch to call the service with; the global one by default. */
  fetch?: typeof fetch;
  /** `waitForStatus`'s time: `now()` and `sleep(ms)`; real time by default. */
  clock?: Clock;
  /** `waitForStatus`'s jitter, a number in [0, 1); Math.random by default. */
  random?: () => number;
}

export type Channel = NonNullable<Schemas['CreateOtpRequest']['channel']>;

export interface SendInput {
  /** E.164: `+`, country code, number (`+919876543210`). */
  phoneNumber: string;
  /**
   * `sms` (the service's default), `whatsapp`, or `auto` (WhatsApp first, SMS when it is not
   * delivered in time). `whatsapp` where no provider has it is refused: 422 `channel_not_available`.
   */
  channel?: Channel;
  /** Makes a retry safe: the same key within 24 h answers the first request again (`replayed: true`). */
  idempotencyKey?: string;
  /** A browser's Cloudflare Turnstile token, for an app that requires one (publishable key). */
  turnstileToken?: string;
}

export interface OtpClient {
  /** Asks for a code (`POST /v1/otp`): answers at once, the SMS goes out from the service's queue. */
  send(input: SendInput): Promise<OtpAccepted & { replayed: boolean }>;
  /** A request's status (`GET /v1/otp/{requestId}`, secret key only). */
  status(requestId: string): Promise<OtpStatus>;
  /**
   * Reads the status until it is one of `options.until` or final (`verified`, `failed`, `expired`,
   * `superseded`); pauses with backoff and jitter, honours `Retry-After`, and throws
   * OtpWaitTimeoutError at the deadline (`timeoutMs`, 60 s by default).
   */
  waitForStatus(requestId: string, options?: WaitOptions<RequestStatus>): Promise<OtpStatus>;
  /** Checks a code (`POST /v1/otp/{requestId}/verify`); answers the verification token (and, with the secret key, the number). */
  verify(requestId: string, code: string): Promise<Verified>;
  /** Checks a verification token against the service's public keys (JWKS), with no call to the service beyond fetching them. */
  verifyToken(token: string, check: TokenCheck): Promise<VerifiedToken>;
  /** Checks a webhook's signature (Standard Webhooks) and answers its parsed body. */
  verifyWebhook<T = WebhookEvent>(payload: string | Uint8Array, headers: Headers | Record<string, string | string[] | undefined>, secret: string): Promise<T>;
  /** The typed openapi-fetch client underneath, for any other route of the document. */
  readonly api: Client<paths>;
}

/**
 * A client of the OTP dispatcher for one app key. Every failure the API answers is thrown as an
 * OtpApiError carrying the API's error `code`.
 */
export function createOtpClient(options: OtpClientOptions): OtpClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${options.key}` }, fetch: options.fetch });
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const verifyToken = tokenVerifier(baseUrl, options.fetch);

  async function status(requestId: string): Promise<OtpStatus> {
    const { data, error, response } = await api.GET('/v1/otp/{requestId}', { params: { path: { requestId } } });
    if (!data) throw apiError(response, error);
    return data;
  }

  return {
    api,
    async send({ phoneNumber, channel, idempotencyKey, turnstileToken }) {
      const { data, error, response } = await api.POST('/v1/otp', {
        params: { header: idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey } },
        body: { phoneNumber, ...(channel === undefined ? {} : { channel }), ...(turnstileToken === undefined ? {} : { turnstileToken }) },
      });
      if (!data) throw apiError(response, error);
      return { ...data, replayed: response.headers.get('Idempotent-Replayed') === 'true' };
    },
    status,
    waitForStatus: (requestId, waitOptions = {}) => waitFor(requestId, () => status(requestId), waitOptions, clock, random),
    async verify(requestId, code) {
      const { data, error, response } = await api.POST('/v1/otp/{requestId}/verify', { params: { path: { requestId } }, body: { code } });
      if (!data) throw apiError(response, error);
      return data;
    },
    verifyToken,
    verifyWebhook: (payload, headers, secret) => verifyWebhook(payload, headers, secret),
  };
}
