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
