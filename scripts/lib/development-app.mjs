/**
 * The development app a local Worker (ENVIRONMENT=development, the top level of wrangler.toml,
 * which every script's `wrangler dev` runs) creates on its first request. Its id and keys are
 * public development values, documented in docs/apps.md ("The development app"): a deployed Worker
 * refuses keys of this form before any lookup. This is the scripts' copy of DEVELOPMENT_APP in
 * src/apps/development-app.ts (which Node cannot import), kept equal by
 * test/development-app-scripts.test.ts. Scripts import it from local-dev-secrets.mjs.
 *
 * No imports on purpose: the test above loads this module inside workerd.
 */
export const DEV_APP = Object.freeze({
  id: 'app_localdev',
  secretKey: 'sk_dev_local_development_secret_key',
  publishableKey: 'pk_dev_local_development_publishable_key',
});

/** The header a backend sends with the development app's secret key (send, status, verify). */
export const DEV_APP_AUTH = Object.freeze({ Authorization: `Bearer ${DEV_APP.secretKey}` });
