import type { Config } from '../config';
import { type ProviderName, providerOrder } from '../config-providers';
import { SandboxProvider } from './sandbox';
import type { SmsProvider } from './sms-provider';
import { StartMessagingProvider } from './startmessaging';
import { TwilioProvider } from './twilio';

export type ProviderChoice = { provider: SmsProvider } | { misconfigured: string };

/** What each provider needs besides its vars (those are checked when the config loads). */
function missingSecrets(name: ProviderName, config: Config): string[] {
  if (name === 'startmessaging' && !config.secrets.SM_API_KEY) return ['SM_API_KEY'];
  if (name === 'twilio' && !config.secrets.TWILIO_AUTH_TOKEN) return ['TWILIO_AUTH_TOKEN'];
  return [];
}

/** One provider by name, or what is missing for it to work. A new vendor is one more case here. */
export function providerByName(name: ProviderName, config: Config, db: D1Database): ProviderChoice {
  const missing = missingSecrets(name, config);
  if (missing.length > 0) return { misconfigured: `provider ${name} needs the secret(s) ${missing.join(', ')}` };
  switch (name) {
    case 'sandbox':
      return { provider: new SandboxProvider(db) };
    case 'sandbox-backup':
      return { provider: new SandboxProvider(db, 'sandbox-backup', ['sms', 'whatsapp']) };
    case 'startmessaging':
      return {
        provider: new StartMessagingProvider({ baseUrl: config.provider.baseUrl, apiKey: config.secrets.SM_API_KEY!, timeoutMs: config.provider.timeoutMs }),
      };
    case 'twilio':
      return {
        provider: new TwilioProvider({
          baseUrl: config.twilio.baseUrl,
          accountSid: config.twilio.accountSid ?? '',
          authToken: config.secrets.TWILIO_AUTH_TOKEN!,
          from: config.twilio.from,
          messagingServiceSid: config.twilio.messagingServiceSid,
          whatsappFrom: config.twilio.whatsappFrom,
          timeoutMs: config.twilio.timeoutMs,
        }),
      };
  }
}

/** Every provider of the deployment's order that can be called, by name, in order; and what is wrong with the others. */
export function deploymentProviders(config: Config, db: D1Database): { providers: Map<ProviderName, SmsProvider>; misconfigured: string[] } {
  const providers = new Map<ProviderName, SmsProvider>();
  const misconfigured: string[] = [];
  for (const name of providerOrder(config)) {
    const choice = providerByName(name, config, db);
    if ('provider' in choice) providers.set(name, choice.provider);
    else misconfigured.push(choice.misconfigured);
  }
  return { providers, misconfigured };
}

/**
 * The first provider the config asks for, or what is missing for it to work. `callerSecrets` are
 * secrets the caller needs besides the provider's own (the send path needs OTP_SECRET to derive
 * codes): a missing one is reported in the same sentence.
 */
export function selectProvider(config: Config, db: D1Database, callerSecrets: Record<string, string | undefined> = {}): ProviderChoice {
  const name = providerOrder(config)[0]!;
  const missing = [...missingSecrets(name, config), ...Object.keys(callerSecrets).filter((secret) => !callerSecrets[secret])];
  if (missing.length > 0) return { misconfigured: `provider ${name} needs the secret(s) ${missing.join(', ')}` };
  return providerByName(name, config, db);
}

/** How long one call to the provider may take. */
export function providerTimeoutMs(config: Config, name: string): number {
  return name === 'twilio' ? config.twilio.timeoutMs : config.provider.timeoutMs;
}

/** The longest any of the deployment's providers may take: what leases and the sweeper's grace allow for. */
export function longestTimeoutMs(config: Config): number {
  return Math.max(...providerOrder(config).map((name) => providerTimeoutMs(config, name)));
}
