/**
 * The secrets the test Worker runs with: vitest.config.ts binds them, and tests derive codes,
 * sign cookies and call the admin API with them. The Worker has no built-in secret to fall back on.
 */
export const TEST_SECRETS = {
  OTP_SECRET: 'test-otp-secret',
  SESSION_SECRET: 'test-session-secret',
  ADMIN_TOKEN: 'test-admin-token-0123456789',
  TURNSTILE_SECRET_KEY: 'test-turnstile-secret',
} as const;
