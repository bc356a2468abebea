import type { Env } from './env';
import { eventsOf, receiveWebhook } from './events';
import { startSession } from './login';
import { clearedSessionCookie, readSession } from './session';

/**
 * The example app's backend. The page (public/) asks the OTP dispatcher for a code and checks it
 * itself, with the app's publishable key; it then hands the verification token to this Worker,
 * which checks it with the typed client (against the service's JWKS) and logs the user in with a
 * session of its own. The service's webhooks come to /webhooks/otp.
 */
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    // HEAD is answered as GET (the runtime drops the body).
    const route = `${request.method === 'HEAD' ? 'GET' : request.method} ${url.pathname}`;
    if (request.method === 'POST' && !sameOriginJson(request, url) && url.pathname.startsWith('/api/')) {
      return Response.json({ error: 'JSON from this page only' }, { status: 403 });
    }
    switch (route) {
      case 'GET /':
      case 'GET /index.html':
        return page(request, env);
      case 'GET /api/health':
        return Response.json({ ok: true });
      case 'GET /api/config':
        // What the page needs to call the service: both are public.
        return Response.json({ serviceUrl: env.OTP_SERVICE_URL, publishableKey: env.OTP_PUBLISHABLE_KEY, webhooks: env.OTP_WEBHOOK_SECRET !== '' });
      case 'POST /api/session':
        return startSession(request, env);
      case 'GET /api/session': {
        const session = await readSession(request, env.SESSION_SECRET, Date.now());
        return session ? Response.json({ phoneNumber: session.phoneNumber }) : Response.json({ error: 'Not logged in' }, { status: 401 });
      }
      case 'POST /api/logout':
        return Response.json({ loggedOut: true }, { headers: { 'Set-Cookie': clearedSessionCookie(url.protocol === 'https:') } });
      case 'GET /api/events': {
        const session = await readSession(request, env.SESSION_SECRET, Date.now());
        if (!session) return Response.json({ error: 'Not logged in' }, { status: 401 });
        return Response.json({ events: await eventsOf(env, session.requestId) });
      }
      case 'POST /webhooks/otp':
        return receiveWebhook(request, env);
      default:
        return env.ASSETS.fetch(request);
    }
  },
} satisfies ExportedHandler<Env>;

/** A browser's POST from this app's own page, as JSON (a form on another site can send neither). */
function sameOriginJson(request: Request, url: URL): boolean {
  const origin = request.headers.get('Origin');
  return (origin === null || origin === url.origin) && /^application\/json\b/.test(request.headers.get('Content-Type') ?? '');
}

/** The login page, allowed to run this origin's files and to call this origin and the service only. */
async function page(request: Request, env: Env): Promise<Response> {
  const file = await env.ASSETS.fetch(new Request(new URL('/index.html', request.url)));
  const response = new Response(file.body, file);
  response.headers.set(
    'Content-Security-Policy',
    `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ${new URL(env.OTP_SERVICE_URL).origin}; ` +
      "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  );
  return response;
}
