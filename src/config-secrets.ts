/**
 * The secrets, by name. None has a default; `requiredBecause` marks the ones the Worker cannot do
 * without. Read by the schema in config.ts (kept apart so that file stays about the vars).
 */
export const SECRETS = {
  SM_API_KEY: { needed: 'StartMessaging in `PROVIDER_ORDER` (real providers)', description: 'sent to StartMessaging as `X-API-Key`' },
  TWILIO_AUTH_TOKEN: {
    needed: 'Twilio in `PROVIDER_ORDER` (real providers)',
    description: "the Twilio account's auth token: HTTP Basic password, with `TWILIO_ACCOUNT_SID` as the user",
  },
  OTP_SECRET: {
    needed: 'always',
    description: 'HMAC key codes are derived with; long and random',
    requiredBecause: 'codes can be neither sent nor checked',
  },
  SESSION_SECRET: { needed: 'always', description: 'signs session cookies', requiredBecause: 'sessions can be neither started nor read' },
  SESSION_SECRET_PREVIOUS: { needed: 'during rotation', description: 'the old session secret: its cookies are still read, never issued' },
  TURNSTILE_SECRET_KEY: {
    needed: 'when an app requires Turnstile, in `siteverify` mode',
    description: "the Turnstile widget's secret key, sent to siteverify with each token",
  },
  ADMIN_TOKEN: {
    needed: 'for the admin API',
    description: 'bearer token of the operator endpoints and the dashboard',
    requiredBecause: 'the admin API is closed',
  },
  TOKEN_SIGNING_KEY: {
    needed: 'for verification tokens',
    description: 'private EC P-256 JWK (JSON with `kid` and `alg: "ES256"`) that signs verification tokens; `npm run token-key` makes one',
    requiredBecause: 'verification tokens can be neither issued nor checked',
  },
  WEBHOOK_SECRET_KEY: {
    needed: 'for webhooks',
    description:
      "key each app's webhook signing secret is derived from (with the app id and a version), so D1 holds none; long and random. Changing it changes every app's secret",
    requiredBecause: 'webhooks can be neither set nor signed',
  },
  TOKEN_SIGNING_KEY_PREVIOUS: {
    needed: 'during rotation',
    description: 'the previous signing key: its public key stays in the JWKS, so the tokens it signed verify until it is removed (retired); it never signs',
  },
} as const satisfies Record<string, { needed: string; description: string; requiredBecause?: string }>;
