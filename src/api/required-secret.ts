import { type Config, REQUIRED_SECRETS, type RequiredSecret, secretValue } from '../config';
import { ApiError } from '../errors';
import { logError } from '../log';

/**
 * A required secret's value, or `500 configuration_error` naming the missing one. There is no
 * fallback value: a Worker without its secrets refuses the work that needs them.
 */
export function requireSecret(config: Config, name: RequiredSecret, path: string): string {
  const value = secretValue(config, name);
  if (value) return value;
  logError('config.missing_secret', { secret: name, path });
  throw new ApiError('configuration_error', `${name} is not set, so ${REQUIRED_SECRETS[name]}; the operator must set it`, {
    details: { missingSecret: name },
  });
}
