import type { Config } from '../config';
import { SandboxProvider } from './sandbox';
import { StartMessagingProvider } from './startmessaging';
import type { SmsProvider } from './types';

export type ProviderChoice = { provider: SmsProvider } | { misconfigured: string };

/** The provider the config asks for, or what is missing for it to work. */
export function selectProvider(config: Config, db: D1Database): ProviderChoice {
  if (config.provider.mode === 'sandbox') return { provider: new SandboxProvider(db) };
  const missing = [!config.secrets.SM_API_KEY && 'SM_API_KEY', !config.secrets.OTP_SECRET && 'OTP_SECRET'].filter(Boolean);
  if (missing.length > 0) return { misconfigured: `PROVIDER_MODE=startmessaging needs the secret(s) ${missing.join(', ')}` };
  return {
    provider: new StartMessagingProvider({
      baseUrl: config.provider.baseUrl,
      apiKey: config.secrets.SM_API_KEY!,
      timeoutMs: config.provider.timeoutMs,
    }),
  };
}
