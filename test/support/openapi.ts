import { env } from 'cloudflare:test';
import { expect } from 'vitest';
import { RESPONSE_HEADERS } from '../../src/api/openapi-responses';
import { TEST_SECRETS } from './secrets';
import { fetchWithEnv } from './worker';

/** What the tests read of the OpenAPI document. */
export interface DocResponse {
  description: string;
  headers?: Record<string, unknown>;
}
export interface DocOperation {
  operationId?: string;
  tags?: string[];
  summary?: string;
  description?: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string; description?: string }>;
  requestBody?: unknown;
  responses: Record<string, DocResponse>;
}
export interface OpenApiDocument {
  openapi: string;
  servers?: Array<{ url: string }>;
  tags?: Array<{ name: string; description?: string }>;
  paths: Record<string, Record<string, DocOperation>>;
  components: { securitySchemes: Record<string, unknown>; headers: Record<string, unknown> };
}

/** The test env with the admin token bound, as a deployment has it. */
export const envWithAdminToken = { ...env, ADMIN_TOKEN: TEST_SECRETS.ADMIN_TOKEN } as Env;

export async function servedDocument(): Promise<OpenApiDocument> {
  return (await fetchWithEnv(new Request('https://otp.test/openapi.json'), envWithAdminToken)).json<OpenApiDocument>();
}

/** Every operation of the document as `METHOD /path`. */
export function operations(document: OpenApiDocument): Array<{ method: string; path: string; operation: DocOperation }> {
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })),
  );
}

/** The error codes a response's description names (each in backticks). */
export function codesNamedIn<T extends string>(text: string | undefined, codes: readonly T[]): T[] {
  return codes.filter((code) => new RegExp(`\`${code}\``).test(text ?? ''));
}

/** The headers a response may carry that the document must declare where they are sent. */
const TRACKED_HEADERS = Object.keys(RESPONSE_HEADERS);

/**
 * Asserts that an answer the Worker gave is one the document declares for the operation: its
 * status, its error code (named in that status's description) and every tracked header it carries.
 */
export async function expectDocumented(document: OpenApiDocument, method: string, path: string, response: Response): Promise<void> {
  const operation = document.paths[path]?.[method.toLowerCase()];
  expect(operation, `${method} ${path} is not in the document`).toBeDefined();
  const declared = operation!.responses[String(response.status)];
  const text = await response.clone().text();
  const code = response.status >= 400 ? (JSON.parse(text) as { error?: { code?: string } }).error?.code : undefined;
  const what = `${method} ${path} answered ${response.status}${code ? ` ${code}` : ''}`;
  expect(declared, `${what}, which the document does not declare`).toBeDefined();
  if (code) expect(declared!.description, `${what}, which the document does not name for that status`).toContain(`\`${code}\``);
  const sent = TRACKED_HEADERS.filter((name) => response.headers.has(name));
  const undeclared = sent.filter((name) => !Object.keys(declared!.headers ?? {}).includes(name));
  expect(undeclared, `${what} with headers the document does not declare for it`).toEqual([]);
}
