import type { Config } from '../config';
import { deploymentProviders } from '../providers/select-provider';
import type { Channel } from '../providers/sms-provider';
import { requestOrder } from './routing-policy';

/** Whether some provider a request of the app may go through can send on `channel`. */
export function channelOffered(config: Config, db: D1Database, appProviders: readonly string[] | null, channel: Channel): boolean {
  const { providers } = deploymentProviders(config, db);
  const order = requestOrder([...providers.keys()], appProviders);
  return order.some((name) => providers.get(name as never)?.channels.includes(channel));
}
