/** Reading request bodies and writing answers in StartMessaging's envelope. */
import { randomBytes } from 'node:crypto';

export const MAX_BODY_BYTES = 64 * 1024;

export function newId(prefix) {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

export function envelope(statusCode, extra) {
  return { success: statusCode < 400, statusCode, requestId: newId('req'), timestamp: new Date().toISOString(), ...extra };
}

export function errorBody(statusCode, code, message, extra = {}) {
  return envelope(statusCode, { error: { code, message, ...extra } });
}

export function sendJson(res, status, body, headers = {}) {
  sendText(res, status, JSON.stringify(body), 'application/json; charset=utf-8', headers);
}

export function sendText(res, status, text, contentType, headers = {}) {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** The body as text; past MAX_BODY_BYTES the rest is dropped and `tooLarge` set. */
export function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), tooLarge }));
    req.on('error', () => resolve({ text: '', tooLarge, aborted: true }));
  });
}
