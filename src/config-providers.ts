import { z } from 'zod';
import { group, httpUrl, integer, nameList, optionalMatching, ratio, setting } from './config-settings.ts';

/**
 * The settings of routing between providers and of the Twilio adapter, part of the schema in
 * config.ts. Imports carry their `.ts` extension so that Node can load them to write the docs.
 */

/** The real vendors, each one file in src/providers/. */
export const VENDOR_PROVIDERS = ['startmessaging', 'twilio'] as const;
/** The sandbox plays one or two providers (the second has WhatsApp too), so failover works locally. */
export const SANDBOX_PROVIDERS = ['sandbox', 'sandbox-backup'] as const;
export const PROVIDER_NAMES = [...VENDOR_PROVIDERS, ...SANDBOX_PROVIDERS] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

const E164_OR_SENDER_ID = /^(\+[1-9]\d{6,14}|[A-Za-z0-9 ]{1,11})$/;

export const routingGroup = () =>
  group('Routing and failover', 'Which providers a code may go through, in order, and when a request moves on to the next one.', {
    order: setting(
      'PROVIDER_ORDER',
      nameList(...PROVIDER_NAMES),
      '',
      'providers in order of preference (apps may set their own, `providers`); empty: `startmessaging`, or `sandbox` in sandbox mode. Sandbox mode takes only sandbox names, the real mode only vendors',
    ),
    failoverAfterSeconds: setting(
      'FAILOVER_AFTER_SECONDS',
      integer(0, 600),
      '2',
      'after a transient failure, the next attempt goes to the next provider this long later (a retry on the same provider waits its backoff)',
    ),
    circuit: z.object({
      windowSeconds: setting('CIRCUIT_WINDOW_SECONDS', integer(5, 3600), '30', "the window of a provider's recent outcomes its circuit judges"),
      minFailures: setting('CIRCUIT_MIN_FAILURES', integer(1, 1000), '5', 'transient failures within the window before the circuit may open'),
      failureRate: setting('CIRCUIT_FAILURE_RATE', ratio, '0.5', 'the circuit opens once this share of the window’s calls failed (and at least the minimum)'),
      coolDownSeconds: setting('CIRCUIT_COOLDOWN_SECONDS', integer(1, 3600), '15', 'an open circuit lets one probe call through after this long (half-open)'),
    }),
  });

export const twilioGroup = () =>
  group('Twilio', 'Twilio Programmable Messaging, a second provider (SMS, and WhatsApp with a WhatsApp sender).', {
    baseUrl: setting('TWILIO_BASE_URL', httpUrl, 'https://api.twilio.com', "Twilio's API origin"),
    accountSid: setting(
      'TWILIO_ACCOUNT_SID',
      optionalMatching(/^AC[0-9a-fA-F]{32}$/, 'an account SID (`AC` and 32 hex digits)'),
      '',
      'the account; the user of HTTP Basic auth',
    ),
    from: setting(
      'TWILIO_FROM',
      optionalMatching(E164_OR_SENDER_ID, 'an E.164 number or an alphanumeric sender id'),
      '',
      'the SMS sender, unless a messaging service is set',
    ),
    messagingServiceSid: setting(
      'TWILIO_MESSAGING_SERVICE_SID',
      optionalMatching(/^MG[0-9a-fA-F]{32}$/, 'a messaging service SID (`MG` and 32 hex digits)'),
      '',
      'sends SMS through this messaging service (its sender pool) instead of `TWILIO_FROM`',
    ),
    whatsappFrom: setting(
      'TWILIO_WHATSAPP_FROM',
      optionalMatching(/^\+[1-9]\d{6,14}$/, 'an E.164 number'),
      '',
      'the WhatsApp sender; without one Twilio offers SMS only',
    ),
    timeoutMs: setting('TWILIO_TIMEOUT_MS', integer(100, 30_000), '8000', 'hard timeout of one Twilio call, in ms'),
    ratePerSecond: setting('TWILIO_RATE_PER_SECOND', integer(1, 10_000), '10', 'Twilio calls per second, account-wide (its own pacer)'),
  });

interface ProviderSettings {
  provider: { mode: 'startmessaging' | 'sandbox' };
  routing: { order: ProviderName[] | null };
  twilio: { accountSid: string | null; from: string | null; messagingServiceSid: string | null };
}

/** Sandbox names only in sandbox mode, vendors only otherwise, and Twilio with what it needs to send. */
export function checkProviderOrder(config: ProviderSettings, problem: (path: string[], message: string) => void): void {
  const order = config.routing.order ?? [];
  const sandbox = config.provider.mode === 'sandbox';
  const allowed: readonly string[] = sandbox ? SANDBOX_PROVIDERS : VENDOR_PROVIDERS;
  const misplaced = order.filter((name) => !allowed.includes(name));
  if (misplaced.length > 0) {
    problem(
      ['routing', 'order'],
      `PROVIDER_ORDER names ${misplaced.join(', ')}, which PROVIDER_MODE=${config.provider.mode} does not have (it takes ${allowed.join(', ')})`,
    );
  }
  if (!sandbox && order.includes('twilio')) {
    if (!config.twilio.accountSid) problem(['twilio', 'accountSid'], 'PROVIDER_ORDER names twilio: TWILIO_ACCOUNT_SID must be set');
    if (!config.twilio.from && !config.twilio.messagingServiceSid) {
      problem(['twilio', 'from'], 'PROVIDER_ORDER names twilio: TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID must be set');
    }
  }
}

/** The deployment's providers in order of preference. */
export function providerOrder(config: ProviderSettings): ProviderName[] {
  return config.routing.order ?? [config.provider.mode === 'sandbox' ? 'sandbox' : 'startmessaging'];
}
