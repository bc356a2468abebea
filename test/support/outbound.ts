import { expect, vi } from 'vitest';

/**
 * Every outbound `fetch()` made by the Worker under test (it runs in the test's isolate) goes
 * through here. A request no test registered a handler for fails the call and the test.
 */

export interface RecordedCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

type Responder = (call: RecordedCall, callIndex: number) => Response | Promise<Response>;

const handlers = new Map<string, { respond: Responder; calls: RecordedCall[] }>();
const unexpected: string[] = [];

export function installOutboundGuard() {
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const origin = new URL(request.url).origin;
    const text = await request.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // keep the raw text
    }
    const call: RecordedCall = { method: request.method, url: request.url, headers: Object.fromEntries(request.headers), body };
    const handler = handlers.get(origin);
    if (!handler) {
      unexpected.push(`${request.method} ${request.url}`);
      throw new Error(`Unexpected outbound request: ${request.method} ${request.url}`);
    }
    handler.calls.push(call);
    if (request.signal.aborted) throw request.signal.reason;
    return raceAbort(Promise.resolve(handler.respond(call, handler.calls.length - 1)), init?.signal ?? undefined);
  });
  return {
    reset() {
      handlers.clear();
      unexpected.length = 0;
    },
    assertNoUnexpectedCalls() {
      expect(unexpected, 'outbound requests no test expected').toEqual([]);
    },
  };
}

/** Answers requests to `origin` with `respond`; returns the list the calls are recorded in. */
export function interceptOrigin(origin: string, respond: Responder): RecordedCall[] {
  const calls: RecordedCall[] = [];
  handlers.set(new URL(origin).origin, { respond, calls });
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
