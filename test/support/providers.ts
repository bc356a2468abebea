import { env } from 'cloudflare:test';
import { PROVIDER_URL, startMessagingEnv } from './fixtures';
import { json } from './outbound';

/** A Twilio account the tests intercept, and its two routes. */
export const TWILIO_URL = 'https://twilio.test';
export const TWILIO_SID = `AC${'0'.repeat(31)}1`;
export const TWILIO_SEND_ROUTE = `POST /2010-04-01/Accounts/${TWILIO_SID}/Messages.json`;
export const TWILIO_STATUS_ROUTE = `GET /2010-04-01/Accounts/${TWILIO_SID}/Messages/:sid`;
export const TWILIO_MESSAGE_SID = `SM${'a'.repeat(32)}`;

/**
 * `base` whose providers' health objects are this test's own (their names get a suffix no other
 * test shares), so a circuit one test opens does not route another's requests.
 */
export function withOwnHealth(base: Env): Env {
  const namespace = base.PROVIDER_HEALTH;
  const suffix = crypto.randomUUID();
  const own = new Proxy(namespace, {
    get(target, property) {
      if (property === 'idFromName') return (name: string) => target.idFromName(`${name}#${suffix}`);
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { ...base, PROVIDER_HEALTH: own } as Env;
}

/** StartMessaging first, then Twilio (with a WhatsApp sender), both intercepted; health objects of its own. */
export function twoProviderEnv(overrides: Record<string, string> = {}): Env {
  return withOwnHealthEnv({
    PROVIDER_ORDER: 'startmessaging,twilio',
    TWILIO_BASE_URL: TWILIO_URL,
    TWILIO_ACCOUNT_SID: TWILIO_SID,
    TWILIO_AUTH_TOKEN: 'twilio-test-auth-token',
    TWILIO_FROM: '+15005550006',
    TWILIO_WHATSAPP_FROM: '+14155238886',
    TWILIO_TIMEOUT_MS: '300',
    ...overrides,
  });
}

function withOwnHealthEnv(vars: Record<string, string>): Env {
  return withOwnHealth(startMessagingEnv(vars));
}

export const twilioCreated = (sid = TWILIO_MESSAGE_SID) => json(201, { sid, status: 'queued', error_code: null, error_message: null });
export const smAccepted = (messageId = 'msg_sm') => json(201, { success: true, data: { messageId } });
export { env, PROVIDER_URL };
