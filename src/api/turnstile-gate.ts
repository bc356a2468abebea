import type { AppCaller } from '../apps/authenticate';
import type { Config } from '../config';
import { checkTurnstile, TurnstileConfigurationError, TurnstileUnavailableError, turnstileError } from '../turnstile/siteverify';

/**
 * A browser send of an app that requires Turnstile must carry a token siteverify accepts, solved on
 * one of the app's own origins. Backends (secret key) are not asked: they are not browsers.
 * Answers the check to run before admission, or null when none is needed.
 */
export function turnstileGate(
  config: Config,
  caller: AppCaller,
  input: { token: string | undefined; clientIp: string | undefined },
): (() => Promise<void>) | null {
  if (caller.keyKind !== 'publishable' || !caller.settings.turnstileRequired) return null;
  return async () => {
    let result: Awaited<ReturnType<typeof checkTurnstile>>;
    try {
      result = await checkTurnstile(config, {
        token: input.token,
        remoteIp: input.clientIp,
        expectedHostnames: caller.settings.allowedOrigins.map((origin) => new URL(origin).hostname),
      });
    } catch (error) {
      if (error instanceof TurnstileUnavailableError || error instanceof TurnstileConfigurationError) throw turnstileError(error);
      throw error;
    }
    if (!result.ok) throw turnstileError(result);
  };
}
