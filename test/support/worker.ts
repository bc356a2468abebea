import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import worker from '../../src/index';

/** The test env with some vars changed, as `wrangler dev --var NAME:VALUE` would. */
export function envWith(vars: Record<string, string>): Env {
  return { ...env, ...vars } as Env;
}

/**
 * Calls the Worker's fetch handler with a given env (SELF always uses the configured one) and
 * waits for its `waitUntil` work, so what it records in the background is there to assert on.
 */
export async function fetchWithEnv(request: Request, testEnv: Env): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, testEnv, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}
