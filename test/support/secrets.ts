/**
 * The secrets the test Worker runs with: vitest.config.ts binds them, and tests derive codes,
 * sign cookies and call the admin API with them. The Worker has no built-in secret to fall back on.
 */

/** Test-only verification-token signing keys (made once with `npm run token-key`): never set one anywhere else. */
export const TEST_TOKEN_SIGNING_KEY =
  '{"kty":"EC","crv":"P-256","x":"oLaO3wp9ZTkZUF9c1tgPKKtMpGoiqNcngY8FRa-r9-s","y":"wInmqL17anx_8yYLlvNkofNYPS1V1RjxFGlLXrp4hMk","d":"3sCIhdzCD-H__XiUZjI-jAN5avZLwn1vAO1hKQpLOQk","kid":"k_20261202_e79ab94220","alg":"ES256"}';

/** A second key, for rotations: the one that replaces TEST_TOKEN_SIGNING_KEY. */
export const TEST_TOKEN_SIGNING_KEY_NEXT =
  '{"kty":"EC","crv":"P-256","x":"nPuXvISG3UCVQkUl7yBFNdytc0-XSJ70U9gwaoJvLsw","y":"PgmMz3E2foLDdDDDGj212U3TLCbr2e_r__Nk5zeEpWM","d":"0kfz_hNS42aOU4FzL6-KFTz_ZpQFUq1dt-Wc-77DgiY","kid":"k_20261202_b38222d994","alg":"ES256"}';

export const TEST_SECRETS = {
  OTP_SECRET: 'test-otp-secret',
  SESSION_SECRET: 'test-session-secret',
  ADMIN_TOKEN: 'test-admin-token-0123456789',
  TURNSTILE_SECRET_KEY: 'test-turnstile-secret',
  TOKEN_SIGNING_KEY: TEST_TOKEN_SIGNING_KEY,
  WEBHOOK_SECRET_KEY: 'test-webhook-secret-key',
} as const;
