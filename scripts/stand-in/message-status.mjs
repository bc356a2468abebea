/** GET /messages/:messageId: the delivery status of a message this stand-in "sent". */
import { envelope, errorBody, sendJson } from './http-io.mjs';

export function createMessageStatusHandler({ settings, callLog, sends, limiter }) {
  return function handleMessage(req, res, messageId) {
    const arrivedAt = Date.now();
    callLog.noteArrival(arrivedAt);
    const record = { seq: callLog.nextSeq(), at: arrivedAt, messageId, status: null };
    callLog.addStatusCheck(record);
    const answer = (status, body, headers) => {
      record.status = status;
      sendJson(res, status, body, headers);
    };
    const apiKey = typeof req.headers['x-api-key'] === 'string' ? req.headers['x-api-key'].trim() : '';
    if (!apiKey) return answer(401, errorBody(401, 'UNAUTHORIZED', 'Missing or invalid API key'));
    if (settings.limitStatusChecks && !limiter.take(apiKey, arrivedAt)) {
      return answer(429, errorBody(429, 'RATE_LIMITED', 'Too many requests', { retry_after: 1 }), { 'Retry-After': '1' });
    }
    const message = sends.message(messageId);
    if (!message) return answer(404, errorBody(404, 'NOT_FOUND', 'No such message'));
    return answer(200, envelope(200, { data: { messageId, status: message.status, deliveredAt: message.deliveredAt, error: null } }));
  };
}
