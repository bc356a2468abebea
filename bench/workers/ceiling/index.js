/**
 * The local ceiling: the least a Worker can do for `POST /v1/otp` in this runtime, answer 202
 * with a small JSON body. Whatever this reaches is the runtime's own cost per request on this
 * machine; the real API's throughput is compared with it in the same run.
 */
const BODY = JSON.stringify({ requestId: 'otp_ceiling', status: 'queued' });

export default {
  async fetch(request) {
    if (new URL(request.url).pathname === '/healthz') return new Response('{"ok":true}', { headers: { 'content-type': 'application/json' } });
    return new Response(BODY, { status: 202, headers: { 'content-type': 'application/json' } });
  },
};
