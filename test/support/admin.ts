import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import worker from '../../src/index';
import { TEST_SECRETS } from './secrets';

export const ADMIN_TOKEN = TEST_SECRETS.ADMIN_TOKEN;

/** Calls the Worker as an operator would: bearer token set, against `testEnv` (the sandbox env by default). */
export async function adminFetch(path: string, init: RequestInit = {}, testEnv: Env = env): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('Authorization')) headers.set('Authorization', `Bearer ${ADMIN_TOKEN}`);
  if (init.body !== undefined && !headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`https://otp.test${path}`, { ...init, headers }), { ...testEnv, ADMIN_TOKEN } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

export async function adminJson<T>(path: string, init: RequestInit = {}, testEnv: Env = env): Promise<{ status: number; body: T }> {
  const response = await adminFetch(path, init, testEnv);
  return { status: response.status, body: await response.json<T>() };
}
