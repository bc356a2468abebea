import { expect, vi } from 'vitest';

/**
 * Every outbound `fetch()` made by the Worker under test (it runs in the test's isolate) goes
 * through here. Tests register routes by method and path; a request to an origin, method or path
 * no test registered fails the call and the test.
 */

export interface RecordedCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  /** The body exactly as sent (a signature covers these bytes, not the parsed body). */
  rawBody: string;
  /** The route that answered, as registered (`'GET /messages/:messageId'`). */
  route: string;
  /** The values of the route's `:name` segments. */
  params: Record<string, string>;
}

/** Answers one call; `callIndex` counts the calls of its route, from 0. */
export type Responder = (call: RecordedCall, callIndex: number) => Response | Promise<Response>;

/** `{ 'POST /otp/send': responder, 'GET /messages/:messageId': responder }` */
export type Routes = Record<string, Responder>;

interface Route {
  key: string;
  method: string;
  segments: string[];
  respond: Responder;
  calls: number;
}

const origins = new Map<string, { routes: Route[]; calls: RecordedCall[] }>();
const unexpected: string[] = [];

function parseRoute(key: string, respond: Responder): Route {
  const match = /^([A-Z]+) (\/\S*)$/.exec(key);
  if (!match) throw new Error(`a route is 'METHOD /path', got ${JSON.stringify(key)}`);
  return { key, method: match[1]!, segments: match[2]!.split('/').slice(1), respond, calls: 0 };
}

function matchRoute(routes: Route[], method: string, pathname: string): { route: Route; params: Record<string, string> } | null {
  const segments = pathname.split('/').slice(1);
  for (const route of routes) {
    if (route.method !== method || route.segments.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matches = route.segments.every((pattern, index) => {
      const segment = segments[index]!;
      if (pattern.startsWith(':')) {
        params[pattern.slice(1)] = decodeURIComponent(segment);
        return segment !== '';
      }
      return pattern === segment;
    });
    if (matches) return { route, params };
  }
  return null;
}

export function installOutboundGuard() {
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    // Decoded by hand: workerd warns when .text() reads a form body.
    const text = new TextDecoder().decode(await request.arrayBuffer());
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // keep the raw text
    }
    const registered = origins.get(url.origin);
    const matched = registered ? matchRoute(registered.routes, request.method, url.pathname) : null;
    if (!registered || !matched) {
      const known = registered ? ` (routes of ${url.origin}: ${registered.routes.map((route) => route.key).join(', ')})` : '';
      unexpected.push(`${request.method} ${request.url}${known}`);
      throw new Error(`Unexpected outbound request: ${request.method} ${request.url}${known}`);
    }
    const { route, params } = matched;
    const call: RecordedCall = {
      method: request.method,
      url: request.url,
      headers: Object.fromEntries(request.headers),
      body,
      rawBody: text,
      route: route.key,
      params,
    };
    registered.calls.push(call);
    const index = route.calls++;
    if (request.signal.aborted) throw request.signal.reason;
    return raceAbort(Promise.resolve(route.respond(call, index)), init?.signal ?? undefined);
  });
  return {
    reset() {
      origins.clear();
      unexpected.length = 0;
    },
    assertNoUnexpectedCalls() {
      expect(unexpected, 'outbound requests no test expected').toEqual([]);
    },
  };
}

/** Returns and forgets the unexpected calls so far: for the guard's own tests only. */
export function takeUnexpectedCalls(): string[] {
  return unexpected.splice(0, unexpected.length);
}

/**
 * Answers requests to `origin` by method and path: `routes` maps `'METHOD /path'` (segments
 * written `:name` match any one segment) to a responder. Registering an origin again replaces
 * its routes. Returns the list every answered call to the origin is recorded in, in order.
 */
export function interceptOrigin(origin: string, routes: Routes): RecordedCall[] {
  const calls: RecordedCall[] = [];
  const parsed = Object.entries(routes).map(([key, respond]) => parseRoute(key, respond));
  if (parsed.length === 0) throw new Error('interceptOrigin needs at least one route');
  origins.set(new URL(origin).origin, { routes: parsed, calls });
  return calls;
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    promise.then(resolve, reject);
  });
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
