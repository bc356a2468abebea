import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from './app-env';
import { registerResponseHeaders } from './openapi-responses';
import { SESSION_COOKIE } from './session-cookie';

/**
 * The document-level parts of the OpenAPI document served at /openapi.json: its info, tags,
 * server and security schemes. The routes describe themselves (routes/*.ts).
 */

export const OPENAPI_PATH = '/openapi.json';

/** Every tag an operation may carry, in the order the reference page shows them. */
export const TAGS = [
  { name: 'Codes', description: "Ask for a code, read its status, check it: an app's calls, with its secret or publishable key (docs/apps.md)" },
  { name: 'Privacy', description: 'An app erasing its own requests for one phone number, with its secret key (docs/operators.md#erasing-one-persons-data)' },
  { name: 'Sessions', description: 'The signed session cookie, for apps whose pages share a site with this service (docs/verification.md#sessions)' },
  { name: 'Tokens', description: 'The public keys verification tokens are checked against (docs/verification.md#verification-tokens)' },
  { name: 'Sandbox', description: 'What the sandbox provider "sent", with the codes: local development only (docs/delivery.md#the-sandbox-provider)' },
  { name: 'Admin: requests', description: 'Operators: the audit of every request and provider call, and statistics (docs/operators.md)' },
  { name: 'Admin: resends', description: 'Operators: bulk resends through the queue (docs/operators.md#recovering-from-a-provider-outage-bulk-resend)' },
  {
    name: 'Admin: abuse',
    description: 'Operators: prefix blocks, conversion scopes and their step-up, locked phones and revoking sessions (docs/abuse-defence.md)',
  },
  {
    name: 'Admin: providers',
    description: "Operators: the deployment's providers, their circuits, drains and rates (docs/operators.md#providers-circuits-and-draining)",
  },
  { name: 'Admin: apps', description: 'Operators: apps, their settings and their keys (docs/operators.md#apps-and-keys)' },
  { name: 'Admin: privacy', description: "Operators: erasing one person's data, and the record of erasures (docs/operators.md#erasing-one-persons-data)" },
  { name: 'Admin: webhooks', description: "Operators: an app's webhook, its signing secret, its deliveries and redelivery (docs/webhooks.md)" },
  { name: 'Admin: alerts', description: 'Operators: incidents of the alert rules and the signed alert receiver (docs/operators.md#alerts)' },
  { name: 'Webhooks', description: "What this service posts to an app's webhook URL, signed (Standard Webhooks; docs/webhooks.md)" },
  { name: 'Service', description: 'Liveness, this document, and the pages this Worker serves' },
] as const;
export type Tag = (typeof TAGS)[number]['name'];

/** One tag per operation: `tags: tag('Codes')`. */
export const tag = (name: Tag): Tag[] => [name];

/**
 * The document's fixed parts. The server is relative (`/`): whoever serves the document is the
 * server, so the same document is right locally, on every deployment and in the client package.
 */
export const DOCUMENT_CONFIG = {
  openapi: '3.1.0',
  info: {
    title: 'OTP dispatcher',
    version: '1',
    description:
      'Queue-driven asynchronous OTP delivery: ask for a code, get 202 at once, poll its status, check the code and get a verification token. ' +
      'Errors are `{ "error": { "code", "message", "requestId" } }` with a code from a closed set (docs/api.md#errors).',
    license: { name: 'MIT', identifier: 'MIT' },
  },
  servers: [{ url: '/', description: 'The service that serves this document (locally http://localhost:8787)' }],
  tags: [...TAGS],
};

/** The security schemes routes name in `security`. */
export function registerSecuritySchemes(app: OpenAPIHono<AppEnv>): void {
  const register = app.openAPIRegistry.registerComponent.bind(app.openAPIRegistry, 'securitySchemes');
  register('secretKey', {
    type: 'http',
    scheme: 'bearer',
    description: "An app's secret key (sk_…), for its backend: send, read status, verify",
  });
  register('publishableKey', {
    type: 'http',
    scheme: 'bearer',
    description: "An app's publishable key (pk_…), for browsers: send and verify, only from the app's allowed origins",
  });
  register('adminBearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'ADMIN_TOKEN, the operators’ token (a secret; locally `local-dev-admin-token`, in .dev.vars)',
  });
  register('sessionCookie', {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
    description: 'The signed session cookie a verification sets for an app with `sessionCookie` on (HttpOnly: a browser sends it by itself)',
  });
  registerResponseHeaders(app);
}

/** The security of a route that anyone may call. */
export const PUBLIC: Array<Record<string, string[]>> = [];
export const SECRET_KEY_ONLY: Array<Record<string, string[]>> = [{ secretKey: [] }];
export const SECRET_OR_PUBLISHABLE_KEY: Array<Record<string, string[]>> = [{ secretKey: [] }, { publishableKey: [] }];
export const ADMIN_BEARER: Array<Record<string, string[]>> = [{ adminBearer: [] }];
