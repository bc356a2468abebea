import { env } from 'cloudflare:test';
import { getRequest, insertRequestStatements } from '../../src/db/requests';
import { newRequestId } from '../../src/ids';
import { phonePrefix } from '../../src/phone';
import { checkDestination } from '../../src/phone-check';
import { TEST_APP } from './apps';
import { TEST_SECRETS } from './secrets';

export const PROVIDER_URL = 'https://sm.test';
/** StartMessaging's two endpoints, as routes for `interceptOrigin`. */
export const SEND_ROUTE = 'POST /otp/send';
export const STATUS_ROUTE = 'GET /messages/:messageId';
export const TEST_API_KEY = 'sm_live_test_key';
export const TEST_OTP_SECRET = TEST_SECRETS.OTP_SECRET;
export const TEST_SESSION_SECRET = TEST_SECRETS.SESSION_SECRET;

/** The Worker's env switched to the real StartMessaging client, pointed at an intercepted origin. */
export function startMessagingEnv(overrides: Record<string, string> = {}): Env {
  return {
    ...env,
    PROVIDER_MODE: 'startmessaging',
    SM_BASE_URL: PROVIDER_URL,
    SM_API_KEY: TEST_API_KEY,
    OTP_SECRET: TEST_OTP_SECRET,
    SM_TIMEOUT_MS: '500',
    ...overrides,
  } as Env;
}

const issued = new Set<string>();
/** Any country, every refusable type refused: what the test deployment admits. */
const DEFAULT_DESTINATIONS = { allowedCountries: null, blockedCountries: [], allowedNumberTypes: [] };

/**
 * A distinct, valid Indian mobile number per call, spread over hundreds of destination prefixes
 * and number blocks, so tests never share rate-limit state or look like a sequential burst. Some
 * of the +91 6-9 ranges are landlines, which are refused: those draws are skipped.
 */
export function uniquePhone(): string {
  for (;;) {
    const digits = Array.from(crypto.getRandomValues(new Uint8Array(9)), (byte) => byte % 10).join('');
    const phone = `+91${6 + (crypto.getRandomValues(new Uint8Array(1))[0]! % 4)}${digits}`;
    if (!checkDestination(phone, DEFAULT_DESTINATIONS).allowed) continue;
    if (!issued.has(phone)) {
      issued.add(phone);
      return phone;
    }
  }
}

/** Writes a queued request straight to D1, as the API would. */
export async function seedRequest(options: { phoneNumber?: string; ttlMs?: number } = {}) {
  const id = newRequestId();
  const now = Date.now();
  const phoneNumber = options.phoneNumber ?? uniquePhone();
  await env.DB.batch(
    insertRequestStatements(env.DB, {
      id,
      appId: TEST_APP.id,
      codeLength: 6,
      phoneNumber,
      phonePrefix: phonePrefix(phoneNumber),
      createdAt: now,
      expiresAt: now + (options.ttlMs ?? 300_000),
    }),
  );
  return { id, phoneNumber };
}

export async function requestRow(id: string) {
  const row = await getRequest(env.DB, id);
  if (!row) throw new Error(`request ${id} not found`);
  return row;
}

export async function attemptRows(requestId: string) {
  const { results } = await env.DB.prepare('SELECT * FROM delivery_attempts WHERE request_id = ? ORDER BY attempt_number')
    .bind(requestId)
    .all<Record<string, unknown>>();
  return results;
}
