import { type Config, ConfigError, loadConfig } from '../config';
import { logError } from '../log';

/**
 * The config a queue batch runs with, or null after keeping the whole batch for a minute: nothing
 * can be done correctly with a broken config, so its messages wait until it is fixed.
 */
export function configOrRetryBatch(batch: MessageBatch<unknown>, env: Env): Config | null {
  try {
    return loadConfig(env);
  } catch (error) {
    logError('config.invalid', { problems: error instanceof ConfigError ? error.problems.join('; ') : String(error) });
    batch.retryAll({ delaySeconds: 60 });
    return null;
  }
}
