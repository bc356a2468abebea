/** Request routing: the two provider endpoints, then the stand-in's own /__ endpoints, else 404. */
import { errorBody, readBody, sendJson } from './http-io.mjs';

export function createRouter({ handleSend, handleMessage, stats, callLog, scripts, reset }) {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/otp/send') {
      if (req.method !== 'POST') return sendJson(res, 405, errorBody(405, 'METHOD_NOT_ALLOWED', 'Use POST'), { Allow: 'POST' });
      return void handleSend(req, res).catch((error) => {
        sendJson(res, 500, errorBody(500, 'STAND_IN_BUG', String(error?.stack ?? error)));
      });
    }
    const message = /^\/messages\/([^/]+)$/.exec(path);
    if (message && req.method === 'GET') return handleMessage(req, res, decodeURIComponent(message[1]));
    if (path === '/__stats' && req.method === 'GET') return sendJson(res, 200, stats());
    if (path === '/__calls' && req.method === 'GET') {
      const since = Number(url.searchParams.get('since') ?? 0) || 0;
      return sendJson(res, 200, callLog.since(since));
    }
    if (path === '/__reset' && req.method === 'POST') {
      reset();
      return sendJson(res, 200, { ok: true });
    }
    if (path === '/__script' && req.method === 'POST') {
      return void readBody(req).then(({ text }) => {
        try {
          scripts.setScript(JSON.parse(text));
          sendJson(res, 200, { ok: true, scripted: scripts.count() });
        } catch (error) {
          sendJson(res, 400, errorBody(400, 'INVALID_SCRIPT', String(error?.message ?? error)));
        }
      });
    }
    return sendJson(res, 404, errorBody(404, 'NOT_FOUND', `No route for ${req.method} ${path}`));
  };
}
