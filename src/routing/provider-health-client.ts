import type { Config } from '../config';
import { errorName, logError } from '../log';
import type { CallOutcome, CircuitSettings } from './circuit';
import type { HealthView } from './provider-health';

/**
 * Asking the providers' health objects, for the send path and the admin views. An object that
 * cannot be reached counts as a closed circuit: health steers routing, it must never stop it.
 */

export function circuitSettings(config: Config): CircuitSettings {
  const { windowSeconds, minFailures, failureRate, coolDownSeconds } = config.routing.circuit;
  return { windowMs: windowSeconds * 1000, minFailures, failureRate, coolDownMs: coolDownSeconds * 1000 };
}

function healthObject(env: Env, provider: string) {
  return env.PROVIDER_HEALTH.get(env.PROVIDER_HEALTH.idFromName(provider));
}

function unknownHealth(provider: string): HealthView {
  return { provider, state: 'closed', since: 0, probe: false, calls: 0, failures: 0, medianLatencyMs: null };
}

/** Each provider's view, asked at once; `wantProbe` asks for a half-open circuit's probe call. */
export async function readHealth(env: Env, config: Config, providers: readonly string[], wantProbe = false): Promise<Map<string, HealthView>> {
  const settings = circuitSettings(config);
  const views = await Promise.all(
    providers.map(async (provider) => {
      try {
        return await healthObject(env, provider).view({ provider, settings, wantProbe });
      } catch (error) {
        logError('provider.health_unavailable', { provider, error: errorName(error) });
        return unknownHealth(provider);
      }
    }),
  );
  return new Map(views.map((view) => [view.provider, view]));
}

/** Reports a batch's outcomes, one call per provider; a failure is logged and forgotten. */
export async function reportHealth(env: Env, config: Config, outcomes: ReadonlyMap<string, CallOutcome[]>): Promise<void> {
  const settings = circuitSettings(config);
  await Promise.all(
    [...outcomes].map(async ([provider, list]) => {
      if (list.length === 0) return;
      try {
        await healthObject(env, provider).report({ provider, settings, outcomes: list });
      } catch (error) {
        logError('provider.health_report_failed', { provider, error: errorName(error) });
      }
    }),
  );
}
