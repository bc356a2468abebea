/**
 * Which answer a send gets once its latency has passed (steps 2-5 of the stand-in's header, then
 * 6-8): no API key, a scripted step, the rate limit, an injected hang or failure, or the real work.
 */
import { errorBody } from './http-io.mjs';

/**
 * `call`: { record, apiKey, scripted, allowed, hangDraw, failDraw, settings, processSend, answer, withhold },
 * where processSend() runs steps 6-8, answer(status, body, headers, rawText?) replies and withhold() does not.
 */
export function answerSend(call) {
  const { record, settings } = call;
  if (!call.apiKey) {
    record.outcome = 'unauthorized';
    return call.answer(401, errorBody(401, 'UNAUTHORIZED', 'Missing or invalid API key'));
  }
  if (call.scripted) return answerScripted(call);
  if (!call.allowed) {
    record.outcome = 'rate_limited';
    return call.answer(429, errorBody(429, 'RATE_LIMITED', 'Too many requests', { retry_after: 1 }), { 'Retry-After': '1' });
  }
  if (call.hangDraw < settings.hangRate) {
    if (settings.hangAfterSend) call.processSend();
    record.outcome = settings.hangAfterSend ? `hang_after_${record.outcome}` : 'hang';
    return call.withhold(); // never answered; close() destroys the socket
  }
  if (call.failDraw < settings.failRate) {
    record.outcome = 'failed';
    return call.answer(500, errorBody(500, 'INTERNAL_ERROR', 'Something went wrong, please retry'));
  }
  const [status, body, headers] = call.processSend();
  call.answer(status, body, headers);
}

/** Steps 6-8 for a scripted number, then the answer its step calls for. */
function answerScripted(call) {
  const { record } = call;
  const { kind, status, retryAfter } = call.scripted;
  if (kind === 'status') {
    record.outcome = status === 429 ? 'rate_limited' : status >= 500 ? 'failed' : `refused_${status}`;
    const headers = retryAfter === null ? {} : { 'Retry-After': String(retryAfter) };
    const body = status === 429 ? errorBody(429, 'RATE_LIMITED', 'Too many requests') : errorBody(status, `SCRIPTED_${status}`, `Scripted answer ${status}`);
    return call.answer(status, body, headers);
  }
  if (kind === 'hang') {
    record.outcome = 'hang';
    return call.withhold();
  }
  const [processedStatus, body, headers] = call.processSend();
  if (kind === 'hang-after-send') {
    record.outcome = `hang_after_${record.outcome}`;
    return call.withhold();
  }
  if (kind === 'ok' || processedStatus >= 300) return call.answer(processedStatus, body, headers);
  record.outcome = `${kind}_${record.outcome}`;
  const full = JSON.stringify(body);
  const garbled = {
    malformed: '<html><body><h1>201 Created</h1></body></html>',
    truncated: full.slice(0, Math.floor(full.length / 2)),
    'wrong-shape': JSON.stringify({ success: true, data: 'queued' }),
  }[kind];
  return call.answer(processedStatus, body, headers, garbled);
}
