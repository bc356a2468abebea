import type { Config } from '../config';
import { SandboxProvider } from './sandbox';
import type { SmsProvider } from './sms-provider';
import { StartMessagingProvider } from './startmessaging';

export type ProviderChoice = { provider: SmsProvider } | { misconfigured: string };

/**
 * The provider the config asks for, or what is missing for it to work. `callerSecrets` are
 * secrets the caller needs besides the provider's own (the send path needs OTP_SECRET to derive
 * codes): a missing one is reported in the same sentence. A new vendor is one more case here.
 */
export function selectProvider(config: Config, db: D1Database, callerSecrets: Record<string, string | undefined> = {}): ProviderChoice {
  switch (config.provider.mode) {
    case 'sandbox':
      return { provider: new SandboxProvider(db) };
    case 'startmessaging': {
      const missing = [!config.secrets.SM_API_KEY && 'SM_API_KEY', ...Object.keys(callerSecrets).filter((name) => !callerSecrets[name])].filter(Boolean);
      if (missing.length > 0) return { misconfigured: `PROVIDER_MODE=startmessaging needs the secret(s) ${missing.join(', ')}` };
      return {
        provider: new StartMessagingProvider({
          baseUrl: config.provider.baseUrl,
          apiKey: config.secrets.SM_API_KEY!,
          timeoutMs: config.provider.timeoutMs,
        }),
      };
    }
  }
}
