import type { Config } from '../config';
import type { DeliveryStatusSource } from './delivery-status';
import { SandboxStatusSource } from './sandbox-status';
import { StartMessagingStatusSource } from './startmessaging-status';

/** Where delivery reports come from in the configured mode, or null when the provider cannot be asked. */
export function selectStatusSource(config: Config, db: D1Database): DeliveryStatusSource | null {
  if (config.provider.mode === 'sandbox') return new SandboxStatusSource(db);
  if (!config.secrets.SM_API_KEY) return null;
  return new StartMessagingStatusSource({
    baseUrl: config.provider.baseUrl,
    apiKey: config.secrets.SM_API_KEY,
    timeoutMs: config.provider.timeoutMs,
  });
}
