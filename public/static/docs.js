// @ts-check
/**
 * The API reference page (public/docs.html): Swagger UI on this service's OpenAPI document, with
 * "Try it out" on for every operation. What is typed into Authorize (an app's secret or publishable
 * key, the admin token) is kept per security scheme in this tab's sessionStorage, as the dashboard
 * keeps its token: it survives a reload, never the tab, and logging out of a scheme forgets it.
 * Swagger UI's own `persistAuthorization` would keep it in localStorage, for good.
 */

/**
 * What this script uses of Swagger UI (the global that swagger-ui-bundle.js defines).
 * @typedef {{ value?: string }} AuthEntry
 * @typedef {{ preauthorizeApiKey(name: string, value: string): void }} SwaggerUi
 * @typedef {{ statePlugins: { auth: { wrapActions: {
 *   authorize(original: (payload: Record<string, AuthEntry>) => unknown): (payload: Record<string, AuthEntry>) => unknown,
 *   logout(original: (names: string[]) => unknown): (names: string[]) => unknown,
 * } } } }} SwaggerPlugin
 * @typedef {(options: Record<string, unknown>) => SwaggerUi} SwaggerUiBundle
 */

const KEY_STORAGE_PREFIX = 'otpd.docs.key.';

/** @returns {SwaggerPlugin} mirrors every authorization into sessionStorage, and every logout out of it. */
function keysInThisTab() {
  return {
    statePlugins: {
      auth: {
        wrapActions: {
          authorize: (original) => (payload) => {
            for (const [scheme, entry] of Object.entries(payload)) {
              const value = entry?.value?.trim();
              if (value) sessionStorage.setItem(KEY_STORAGE_PREFIX + scheme, value);
            }
            return original(payload);
          },
          logout: (original) => (schemes) => {
            for (const scheme of schemes) sessionStorage.removeItem(KEY_STORAGE_PREFIX + scheme);
            return original(schemes);
          },
        },
      },
    },
  };
}

/** The keys this tab holds, by security scheme. */
function storedKeys() {
  /** @type {Array<[string, string]>} */
  const keys = [];
  for (let i = 0; i < sessionStorage.length; i += 1) {
    const name = sessionStorage.key(i);
    const value = name?.startsWith(KEY_STORAGE_PREFIX) ? sessionStorage.getItem(name) : null;
    if (name && value) keys.push([name.slice(KEY_STORAGE_PREFIX.length), value]);
  }
  return keys;
}

const SwaggerUIBundle = /** @type {{ SwaggerUIBundle?: SwaggerUiBundle }} */ (/** @type {unknown} */ (globalThis)).SwaggerUIBundle;
if (!SwaggerUIBundle) throw new Error('swagger-ui-bundle.js did not load: run `npm install` (it copies Swagger UI into public/static/vendor)');

/** @type {SwaggerUi} */
const ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  tryItOutEnabled: true,
  displayOperationId: true,
  displayRequestDuration: true,
  filter: true,
  showExtensions: false,
  // No badge from validator.swagger.io: this page talks to this origin only.
  validatorUrl: null,
  plugins: [keysInThisTab],
  onComplete: () => {
    for (const [scheme, value] of storedKeys()) ui.preauthorizeApiKey(scheme, value);
  },
});
