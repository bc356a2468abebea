/** A provider call that got no HTTP answer: worth retrying, with what went wrong. */
export interface NoAnswer {
  kind: 'transient';
  httpStatus: null;
  errorCode: 'provider_timeout' | 'provider_network_error';
  message: string;
}

/**
 * One HTTP call to the provider with a hard timeout, its body read as text (a body that cannot be
 * read counts as empty). Timeouts and network errors come back as a `NoAnswer`, never thrown.
 */
export async function callProvider(url: string, init: RequestInit, timeoutMs: number): Promise<{ response: Response; text: string } | NoAnswer> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    return {
      kind: 'transient',
      httpStatus: null,
      errorCode: timedOut ? 'provider_timeout' : 'provider_network_error',
      message: timedOut ? `no answer within ${timeoutMs} ms` : 'could not reach the provider',
    };
  }
  const text = await response.text().catch(() => '');
  return { response, text };
}

/** The body as JSON, or undefined when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `Retry-After` is either delay-seconds or an HTTP date (RFC 9110, section 10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** Provider error texts may echo the number or the code; long digit runs never reach D1. */
export function redactDigits(text: string): string {
  return text.replace(/\+?\d[\d\s-]{3,}\d/g, '[redacted]');
}
