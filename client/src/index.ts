/**
 * @otp-dispatcher/client: a typed client of the OTP dispatcher API, generated from its OpenAPI
 * document (openapi.json → api-types.ts), for app backends and browsers.
 */
export type { components, operations, paths } from './api-types.ts';
export {
  type Channel,
  createOtpClient,
  type OtpAccepted,
  type OtpClient,
  type OtpClientOptions,
  type OtpStatus,
  type RequestStatus,
  type SendInput,
  type Verified,
} from './client.ts';
export { type ApiErrorCode, OtpApiError, OtpTokenError, OtpWaitTimeoutError, OtpWebhookError, type WebhookRefusal } from './errors.ts';
export { type TokenCheck, tokenVerifier, type VerifiedToken } from './tokens.ts';
export { backoffDelay, type Clock, FINAL_STATUSES, systemClock, type WaitOptions } from './wait.ts';
export { verifyWebhook, type WebhookEvent } from './webhooks.ts';
