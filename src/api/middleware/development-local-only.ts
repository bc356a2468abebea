import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../../errors';
import { logError } from '../../log';
import type { AppEnv } from '../app-env';

/**
 * The development environment (wrangler.toml's top level: sandbox provider, secrets from
 * `.dev.vars`) answers only requests addressed to localhost or an IP address. Cloudflare routes a
 * request to a deployed Worker by hostname, never by IP address, so a development build deployed
 * by mistake (`wrangler deploy` without `--env production`) serves nothing, even if someone gave it
 * secrets: a public sandbox would hand out codes, and with them sessions, for any number.
 */
export function developmentLocalOnly(): MiddlewareHandler<AppEnv> {
  return async function developmentLocalOnlyMiddleware(c, next) {
    if (c.get('config').environment === 'development' && !isLocalHost(new URL(c.req.url).hostname)) {
      logError('config.development_not_local', { path: c.req.path });
      throw new ApiError(
        'configuration_error',
        'This Worker runs the local development configuration, which answers only on localhost or an IP address; deploy with `npm run deploy` (--env production)',
      );
    }
    await next();
  };
}

/** `localhost`, `*.localhost`, or an IPv4 or IPv6 address (a URL's hostname writes IPv6 in brackets). */
export function isLocalHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || /^\[[0-9a-f:.]+\]$/.test(host);
}
