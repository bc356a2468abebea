/** One HTTP call with fetch and a hard timeout, for checks where the client's own cost does not matter. */

/** The body is parsed as JSON when it is JSON (`json` is undefined otherwise). */
export async function http(method, url, { body, headers = {}, rawBody, timeoutMs = 10_000 } = {}) {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'Content-Type': 'application/json', ...headers },
    body: rawBody ?? (body === undefined ? undefined : JSON.stringify(body)),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  return { status: response.status, json: parseJson(text), text, headers: response.headers };
}

/** `text` parsed as JSON, or undefined when it is not JSON. */
export function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
