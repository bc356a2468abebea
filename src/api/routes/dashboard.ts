import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { servePublicFile, withoutDevelopmentOnly } from '../public-files';

/**
 * The operator dashboard, public/dashboard.html with its script and style sheet in public/static/.
 * It is public (it holds no data); the operator signs in with the admin token, which the page keeps
 * in sessionStorage and sends as a bearer header to /v1/admin. Only this origin's own files run or
 * apply: no inline script or style, so nothing injected into the page could run.
 */
export const dashboardRoutes = new Hono<AppEnv>().get('/admin', async (c) => {
  const page = await servePublicFile(c, '/dashboard.html');
  page.headers.set(
    'Content-Security-Policy',
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
      "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  );
  page.headers.set('Cache-Control', 'no-store');
  page.headers.set('Referrer-Policy', 'no-referrer');
  return withoutDevelopmentOnly(page, c.get('config').environment === 'development');
});
