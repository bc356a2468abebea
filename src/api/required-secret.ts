import { type Config, REQUIRED_SECRETS, type RequiredSecret, secretValue } from '../config';
import { ApiError } from '../errors';
import { logError } from '../log';
import { SigningKeyError } from '../tokens/signing-keys';

/**
 * A required secret's value, or `500 configuration_error` naming the missing one. There is no
 * fallback value: a Worker without its secrets refuses the work that needs them.
 */
export function requireSecret(config: Config, name: RequiredSecret, path: string): string {
  const value = secretValue(config, name);
  if (value) return value;
  throw missingSecretError(name, path);
}

function missingSecretError(name: RequiredSecret, path: string): ApiError {
  logError('config.missing_secret', { secret: name, path });
  return new ApiError('configuration_error', `${name} is not set, so ${REQUIRED_SECRETS[name]}; the operator must set it`, {
    details: { missingSecret: name },
  });
}

/**
 * Runs token work (signing a verification token, the JWKS): a signing key that is missing or
 * malformed answers `500 configuration_error` naming the secret (in `missingSecret` or
 * `invalidSecret`); what is wrong with it goes to the log only. Other errors pass through.
 */
export async function withSigningKeys<T>(path: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof SigningKeyError)) throw error;
    if (error.missing && error.secret === 'TOKEN_SIGNING_KEY') throw missingSecretError(error.secret, path);
    logError('config.invalid_secret', { secret: error.secret, problem: error.problem, path });
    throw new ApiError(
      'configuration_error',
      `${error.secret} is malformed, so verification tokens can be neither issued nor checked; the operator must replace it (the log says why)`,
      { details: { invalidSecret: error.secret } },
    );
  }
}
