/**
 * Structured log lines (one JSON object each, read by Workers Logs). Callers pass ids, counts and
 * error codes; phone numbers appear masked or as prefixes, and codes and secrets never at all.
 */
type Fields = Record<string, string | number | boolean | null | undefined>;

export function logInfo(event: string, fields: Fields = {}): void {
  console.log(JSON.stringify({ level: 'info', event, ...fields }));
}

export function logWarn(event: string, fields: Fields = {}): void {
  console.warn(JSON.stringify({ level: 'warn', event, ...fields }));
}

export function logError(event: string, fields: Fields = {}): void {
  console.error(JSON.stringify({ level: 'error', event, ...fields }));
}

export function errorName(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 300) : 'unknown error';
}
