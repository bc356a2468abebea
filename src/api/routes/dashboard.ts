import { Hono } from 'hono';
import { base64Url } from '../../crypto';
import type { AppEnv } from '../app-env';
import { dashboardPage } from '../dashboard-page';

/**
 * The operator dashboard: one self-contained page. It is public (it holds no data); the operator
 * signs in with the admin token, which the page keeps in sessionStorage and sends as a bearer
 * header to /v1/admin. Its scripts run only by nonce, so nothing injected into it could run.
 */
export const dashboardRoutes = new Hono<AppEnv>().get('/admin', (c) => {
  const nonce = base64Url(crypto.getRandomValues(new Uint8Array(16)));
  c.header(
    'Content-Security-Policy',
    `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; ` +
      `base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  );
  c.header('Cache-Control', 'no-store');
  c.header('Referrer-Policy', 'no-referrer');
  return c.html(dashboardPage({ nonce, development: c.get('config').environment === 'development' }));
});
