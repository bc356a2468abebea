/**
 * The service the typed client's tests (client/test) and the example app's browser test
 * (test-browser/example-login.spec.mjs) run against: the one at $OTP_BASE_URL when it is set
 * (`node scripts/with-service.mjs` starts one for several suites), else a `wrangler dev` of this
 * working tree of their own (sandbox provider, throwaway local state, the local secrets).
 */
import { createDevStack } from './dev-stack.mjs';
import { ROOT } from './wrangler.mjs';

/**
 * Every caller of a local run comes from 127.0.0.1: the per-address limit is raised so that
 * suites making a few dozen sends are not refused for their address. Delivery reports come fast.
 */
export const TEST_SERVICE_VARS = Object.freeze({ IP_LIMITS: '1000/60', DELIVERY_CHECK_BASE_SECONDS: '1' });

/** Starts the service unless $OTP_BASE_URL names one; resolves { base, stop() }. */
export async function startTestService({ label = 'otpd-service' } = {}) {
  if (process.env.OTP_BASE_URL) return { base: process.env.OTP_BASE_URL.replace(/\/+$/, ''), stop: async () => {}, logTail: () => [] };
  const stack = createDevStack({ label, vars: TEST_SERVICE_VARS, cwd: ROOT });
  try {
    await stack.start({ healthTimeoutMs: 90_000 });
  } catch (error) {
    for (const line of stack.logTail(30)) console.error(line);
    await stack.stop();
    throw error;
  }
  return { base: stack.base, stop: () => stack.stop(), logTail: (lines) => stack.logTail(lines) };
}
