import { errorName } from '../log';

/** What one post to a receiver came to. */
export type PostOutcome =
  | { kind: 'delivered'; httpStatus: number }
  | { kind: 'gone'; httpStatus: 410 }
  | { kind: 'failed'; httpStatus: number | null; errorCode: 'http_error' | 'timeout' | 'network_error'; message: string };

/**
 * Posts one signed event. Any 2xx is a delivery; 410 Gone says the receiver is gone for good;
 * anything else, a redirect included (it is never followed: the receiver is the URL an operator
 * set), is a failure to retry. The answer's body is never read.
 */
export async function postEvent(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<PostOutcome> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('timeout')), timeoutMs);
  try {
    const response = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: controller.signal });
    await response.body?.cancel().catch(() => {});
    if (response.status >= 200 && response.status < 300) return { kind: 'delivered', httpStatus: response.status };
    if (response.status === 410) return { kind: 'gone', httpStatus: 410 };
    return { kind: 'failed', httpStatus: response.status, errorCode: 'http_error', message: `the receiver answered HTTP ${response.status}` };
  } catch (error) {
    if (controller.signal.aborted) return { kind: 'failed', httpStatus: null, errorCode: 'timeout', message: `no answer within ${timeoutMs} ms` };
    return { kind: 'failed', httpStatus: null, errorCode: 'network_error', message: errorName(error) };
  } finally {
    clearTimeout(timer);
  }
}
