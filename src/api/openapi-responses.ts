import type { OpenAPIHono } from '@hono/zod-openapi';
import { codeToStatus, type ErrorCode, ErrorCode as ErrorCodeSchema } from '../errors';
import type { AppEnv } from './app-env';
import { ErrorBodySchema } from './schemas';

/**
 * The pieces every route's OpenAPI answers are made of: the response headers (declared once, as
 * components, and referenced), and the error answers, declared by error code. A route lists the
 * codes it can answer with (the groups below follow the middleware order of app.ts); the statuses,
 * the codes each status carries and the headers each code comes with follow from them.
 */

export const RESPONSE_HEADERS = {
  'X-Request-Id': {
    description: 'Trace id of this call (`req_…`), on every answer; quoted as `error.requestId` in error bodies',
    example: 'req_3q2-7wEjQ1mB0Yk5c9f8Zg',
  },
  Location: { description: 'The URL of what was created (the request’s status, the app, the resend)', example: 'https://otp.example.com/v1/otp/otp_…' },
  'Retry-After': { description: 'Seconds to wait before trying again', example: '5' },
  RateLimit: { description: 'IETF RateLimit fields: the limit that refused the call, none remaining, reset in `t` seconds', example: '"otp";r=0;t=60' },
  'RateLimit-Policy': { description: 'IETF RateLimit policy: the tightest per-phone window, `q` sends per `w` seconds', example: '"otp";q=1;w=30' },
  'Idempotent-Replayed': { description: '`true` when this is the answer an earlier call with the same `Idempotency-Key` got', example: 'true' },
  'Set-Cookie': {
    description: 'The signed session cookie `otp_session` (HttpOnly; Secure; SameSite=Lax; Path=/), or its removal',
    example: 'otp_session=…; Max-Age=86400; Path=/; HttpOnly; Secure; SameSite=Lax',
  },
  'WWW-Authenticate': { description: 'The scheme the route expects: `Bearer`, with `error="invalid_token"` for a key that is refused', example: 'Bearer' },
  'Cache-Control': { description: 'How long the answer may be kept', example: 'no-store' },
  'X-Next-Cursor': { description: 'CSV listings: the cursor of the next page, absent on the last page', example: 'eyJ…' },
  'Content-Disposition': {
    description: 'CSV listings: a download with a dated file name',
    example: 'attachment; filename="requests-2026-11-26T10-00-00-000Z.csv"',
  },
  'Content-Security-Policy': {
    description: "The page's policy: its own files only, requests to this origin only",
    example: "default-src 'none'; script-src 'self'",
  },
  ETag: { description: 'The file’s validator; `If-None-Match` with it answers 304', example: '"3f9a1c2b"' },
} as const;
export type ResponseHeader = keyof typeof RESPONSE_HEADERS;

/** Registers the shared response headers, referenced from every route's answers. */
export function registerResponseHeaders(app: OpenAPIHono<AppEnv>): void {
  for (const [name, { description, example }] of Object.entries(RESPONSE_HEADERS)) {
    app.openAPIRegistry.registerComponent('headers', name, { description, schema: { type: 'string', example } });
  }
}

/** The declared headers of an answer: `X-Request-Id` always, then the given ones. */
export function responseHeaders(...names: ResponseHeader[]) {
  return Object.fromEntries(['X-Request-Id', ...names].map((name) => [name, { $ref: `#/components/headers/${name}` }]));
}

/** The headers an error code comes with, wherever it is answered. */
const CODE_HEADERS: Partial<Record<ErrorCode, ResponseHeader[]>> = {
  unauthorized: ['WWW-Authenticate'],
  invalid_api_key: ['WWW-Authenticate'],
  request_in_progress: ['Retry-After'],
  phone_rate_limited: ['Retry-After', 'RateLimit', 'RateLimit-Policy'],
  ip_rate_limited: ['Retry-After', 'RateLimit', 'RateLimit-Policy'],
  prefix_rate_limited: ['Retry-After', 'RateLimit', 'RateLimit-Policy'],
  prefix_blocked: ['Retry-After', 'RateLimit', 'RateLimit-Policy'],
  conversion_step_up: ['Retry-After', 'RateLimit', 'RateLimit-Policy'],
  phone_locked: ['Retry-After', 'RateLimit', 'RateLimit-Policy'],
  app_budget_exhausted: ['Retry-After', 'RateLimit', 'RateLimit-Policy'],
  too_many_attempts: ['Retry-After'],
  global_budget_exhausted: ['Retry-After'],
  limiter_unavailable: ['Retry-After'],
  turnstile_unavailable: ['Retry-After'],
  service_unavailable: ['Retry-After'],
};

/**
 * What any route can answer, before and after its own work: the config (500, also for the
 * development configuration reached on a public host), a query parameter given twice (400), and
 * the error handler's last resort (500).
 */
export const ANY_ROUTE: readonly ErrorCode[] = ['invalid_request', 'configuration_error', 'internal_error'];
/** A route that reads or writes D1 or a Durable Object: an outage answers 503 with `Retry-After`. */
export const STORAGE: readonly ErrorCode[] = ['service_unavailable'];
/** A route that takes a JSON body: the body middleware (type, size) and the parser. */
export const JSON_BODY: readonly ErrorCode[] = ['invalid_json', 'payload_too_large', 'unsupported_media_type'];
/** A body middleware runs on every POST under /v1 even without a body schema: type and size only. */
export const ANY_BODY: readonly ErrorCode[] = ['payload_too_large', 'unsupported_media_type'];
/** Every operator route: the admin bearer token (middleware/admin-auth.ts: refused, or ADMIN_TOKEN not set), then storage. */
export const ADMIN_ROUTE: readonly ErrorCode[] = [...ANY_ROUTE, 'unauthorized', 'configuration_error', ...STORAGE];
/** An app's key (middleware/app-auth.ts) for a route that takes only the secret key. */
export const SECRET_KEY: readonly ErrorCode[] = ['unauthorized', 'invalid_api_key', 'key_not_allowed', 'configuration_error', ...STORAGE];
/** An app's key for a route that also takes the publishable key, held to the app's origins. */
export const ANY_APP_KEY: readonly ErrorCode[] = ['unauthorized', 'invalid_api_key', 'forbidden_origin', 'configuration_error', ...STORAGE];

const STATUS_TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Body too large',
  415: 'Body not JSON',
  422: 'Not processable',
  429: 'Refused: limited',
  500: 'Server error',
  503: 'Unavailable: retry after `Retry-After`',
};

/**
 * The error answers of a route that can answer `codes` (groups above and its own, in any order,
 * repeats allowed): one response per status, whose description names its codes in backticks and
 * whose headers are those its codes come with. The body is always the `Error` schema.
 */
export function errorResponses(...codes: ReadonlyArray<ErrorCode | readonly ErrorCode[]>) {
  const byStatus = new Map<number, Set<ErrorCode>>();
  for (const code of codes.flat()) {
    const status = codeToStatus[code];
    byStatus.set(status, (byStatus.get(status) ?? new Set()).add(code));
  }
  const order = ErrorCodeSchema.options;
  return Object.fromEntries(
    [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, set]) => {
        const listed = [...set].sort((a, b) => order.indexOf(a) - order.indexOf(b));
        const headers = [...new Set(listed.flatMap((code) => CODE_HEADERS[code] ?? []))];
        return [
          status,
          {
            description: `${STATUS_TITLES[status] ?? 'Error'}: ${listed.map((code) => `\`${code}\``).join(', ')} (docs/api.md#errors)`,
            headers: responseHeaders(...headers),
            content: { 'application/json': { schema: ErrorBodySchema } },
          },
        ];
      }),
  );
}

/** Error answers that also carry `names` (set by a route's middleware on every answer, such as `Cache-Control: no-store`). */
export function withHeaders<T extends Record<string, { headers: Record<string, unknown> }>>(responses: T, ...names: ResponseHeader[]): T {
  const extra = responseHeaders(...names);
  return Object.fromEntries(Object.entries(responses).map(([status, response]) => [status, { ...response, headers: { ...response.headers, ...extra } }])) as T;
}
