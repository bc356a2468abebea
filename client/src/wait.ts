import { OtpApiError, OtpWaitTimeoutError } from './errors.ts';

/** Time as `waitForStatus` sees it; tests give a clock of their own. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms` milliseconds (rejects when `signal` aborts). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', abort);
        resolve();
      }, ms);
      const abort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', abort, { once: true });
    }),
};

export interface WaitOptions<S extends string> {
  /** Statuses to stop at besides the final ones (`verified`, `failed`, `expired`, `superseded`), e.g. `['sent', 'delivered']`. */
  until?: readonly S[];
  /** Give up (OtpWaitTimeoutError) this long after the call; 60 s by default. */
  timeoutMs?: number;
  /** The first pause between two reads; 500 ms by default. Each next pause doubles, up to `maxDelayMs`. */
  initialDelayMs?: number;
  /** The longest pause between two reads; 5 s by default. */
  maxDelayMs?: number;
  signal?: AbortSignal;
}

/** The statuses a request never leaves. */
export const FINAL_STATUSES = ['verified', 'failed', 'expired', 'superseded'] as const;

/** Answers the API gives while it is briefly unable to answer; retried after `Retry-After`. */
const RETRIED_STATUSES = new Set([429, 502, 503, 504]);

/**
 * The pause before read `attempt` (0, 1, …): exponential, capped, with "equal jitter" (between half
 * and all of it), so that many clients polling at once spread out.
 */
export function backoffDelay(attempt: number, options: { initialDelayMs: number; maxDelayMs: number }, random: () => number): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** attempt);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Reads a request's status until it is one of `until` or final, or the deadline passes. Between
 * reads it pauses with backoff and jitter; when the API refuses a read for a while (429, 503, …)
 * with `Retry-After`, it waits exactly that long, or gives up at once when that is past the
 * deadline. Other errors (401, 404, …) are thrown as they are.
 */
export async function waitFor<T extends { status: string }>(
  requestId: string,
  read: () => Promise<T>,
  options: WaitOptions<string>,
  clock: Clock,
  random: () => number,
): Promise<T> {
  const timing = { initialDelayMs: options.initialDelayMs ?? 500, maxDelayMs: options.maxDelayMs ?? 5000 };
  const deadline = clock.now() + (options.timeoutMs ?? 60_000);
  const wanted = new Set<string>([...FINAL_STATUSES, ...(options.until ?? [])]);
  let last: string | undefined;
  for (let attempt = 0; ; attempt += 1) {
    let retryAfterMs: number | undefined;
    try {
      const current = await read();
      last = current.status;
      if (wanted.has(current.status)) return current;
    } catch (error) {
      if (!(error instanceof OtpApiError) || !RETRIED_STATUSES.has(error.status)) throw error;
      if (error.retryAfterSeconds !== undefined) retryAfterMs = error.retryAfterSeconds * 1000;
    }
    const left = deadline - clock.now();
    // Asked to wait past the deadline: no read could come in time.
    if (left <= 0 || (retryAfterMs !== undefined && retryAfterMs > left)) throw new OtpWaitTimeoutError(requestId, last);
    // A backoff pause is cut short so that the last read falls on the deadline.
    await clock.sleep(retryAfterMs ?? Math.min(backoffDelay(attempt, timing, random), left), options.signal);
  }
}
