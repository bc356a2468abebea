import type { AppCaller } from '../apps/authenticate';
import type { Config } from '../config';
import { checkTurnstile, TurnstileConfigurationError, TurnstileUnavailableError, turnstileError } from '../turnstile/siteverify';

interface GateInput {
  token: string | undefined;
  clientIp: string | undefined;
}

/**
 * A browser send of an app that requires Turnstile must carry a token siteverify accepts, solved on
 * one of the app's own origins. Backends (secret key) are not asked: they are not browsers.
 * Answers the check to run before admission, or null when none is needed.
 */
export function turnstileGate(config: Config, caller: AppCaller, input: GateInput): (() => Promise<void>) | null {
  if (caller.keyKind !== 'publishable' || !caller.settings.turnstileRequired) return null;
  return () => checkToken(config, caller, input);
}

/**
 * In a stepped-up scope every browser send of a number never verified needs a passed Turnstile
 * check, whatever its app requires. Returning numbers need none, and whether a number returns is
 * known only at admission: so a token that came along is checked here (true when it passed; a
 * failed one is refused as usual), and a missing one answers false, for admission to decide.
 */
export function stepUpTurnstileCheck(config: Config, caller: AppCaller, input: GateInput): (() => Promise<boolean>) | null {
  if (caller.keyKind !== 'publishable') return null;
  return async () => {
    if (input.token === undefined) return false;
    await checkToken(config, caller, input);
    return true;
  };
}

async function checkToken(config: Config, caller: AppCaller, input: GateInput): Promise<void> {
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
}
