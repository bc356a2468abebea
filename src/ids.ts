import { base64Url } from './crypto';

/** 128 random bits: a request id is a capability to poll and verify, so it must not be guessable. */
export function newRequestId(): string {
  return `otp_${base64Url(crypto.getRandomValues(new Uint8Array(16)))}`;
}

export const REQUEST_ID_PATTERN = /^otp_[A-Za-z0-9_-]{22}$/;

/** A bulk resend job; the same 128 random bits as a request id, told apart by its prefix. */
export function newResendId(): string {
  return `rsd_${base64Url(crypto.getRandomValues(new Uint8Array(16)))}`;
}

export const RESEND_ID_PATTERN = /^rsd_[A-Za-z0-9_-]{22}$/;

/** A session (one per verified code): the same 128 random bits, so it cannot be guessed either. */
export function newSessionId(): string {
  return `ses_${base64Url(crypto.getRandomValues(new Uint8Array(16)))}`;
}

/** An alert incident; its id is the `webhook-id` stem of its two notices. */
export function newIncidentId(): string {
  return `inc_${base64Url(crypto.getRandomValues(new Uint8Array(16)))}`;
}

export const INCIDENT_ID_PATTERN = /^inc_[A-Za-z0-9_-]{22}$/;

/** Trace id for one API call, echoed in `X-Request-Id` and in error bodies. */
export function newTraceId(): string {
  return `req_${base64Url(crypto.getRandomValues(new Uint8Array(12)))}`;
}

/**
 * The provider idempotency key of a request. Derived, not random: every retry and every
 * redelivery of the same request sends the same key, so the provider sends at most one SMS.
 * A new code always comes with a new request id, hence a new key.
 */
export function providerIdempotencyKey(requestId: string): string {
  return `otpd-${requestId}`;
}

/** The record of one erasure of a person's data. */
export function newErasureId(): string {
  return `era_${base64Url(crypto.getRandomValues(new Uint8Array(12)))}`;
}

/** An app; the development app seeded by `npm run dev` has the readable id `app_localdev`. */
export function newAppId(): string {
  return `app_${base64Url(crypto.getRandomValues(new Uint8Array(16)))}`;
}

export const APP_ID_PATTERN = /^app_[A-Za-z0-9_-]{1,40}$/;

/** An API key's public handle (the key itself is a secret, shown once). */
export function newApiKeyId(): string {
  return `key_${base64Url(crypto.getRandomValues(new Uint8Array(12)))}`;
}

export const API_KEY_ID_PATTERN = /^key_[A-Za-z0-9_-]{8,40}$/;
