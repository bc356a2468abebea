import type { MiddlewareHandler } from 'hono';
import { authenticateKey, type KeyRefusal } from '../../apps/authenticate';
import type { KeyKind } from '../../apps/key-material';
import { ApiError } from '../../errors';
import { logError } from '../../log';
import type { AppEnv } from '../app-env';

const REFUSAL_MESSAGE: Record<KeyRefusal, string> = {
  malformed: 'The API key is not in a valid form (sk_… or pk_…)',
  unknown: 'The API key is not valid',
  revoked: 'The API key was revoked',
  expired: 'The API key was rotated and its overlap has ended; use the new key',
  app_disabled: "The API key's app is disabled",
  development_key_outside_development: 'Development keys work only on a local development Worker',
};

/**
 * Routes an app calls need `Authorization: Bearer <key>`. `allow` names the kinds of key the
 * route takes: a publishable key (pk_…) may sit in a browser, so it is accepted only from one of
 * its app's allowed origins, and never for reading a request's status. The caller (app, key,
 * settings) is put on the context; every query after this is scoped to that app.
 */
export function appAuth(allow: readonly KeyKind[]): MiddlewareHandler<AppEnv> {
  return async function appAuthMiddleware(c, next) {
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('Authorization') ?? '')?.[1];
    if (!presented) {
      throw new ApiError('unauthorized', 'An API key is required: Authorization: Bearer sk_… (backend) or pk_… (browser)', {
        headers: { 'WWW-Authenticate': 'Bearer' },
      });
    }
    const config = c.get('config');
    const found = await authenticateKey(c.env.DB, config, presented, { now: Date.now(), waitUntil: (promise) => c.executionCtx.waitUntil(promise) });
    if (!found.ok) {
      if (found.reason === 'settings_unreadable') {
        logError('app.settings_unreadable', { appId: found.appId });
        throw new ApiError('configuration_error', "This app's settings could not be read; an operator must correct them");
      }
      throw new ApiError('invalid_api_key', REFUSAL_MESSAGE[found.reason], { headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } });
    }
    const { caller } = found;
    if (!allow.includes(caller.keyKind)) {
      throw new ApiError('key_not_allowed', `A ${caller.keyKind} key cannot be used here; call this route from the app's backend with its secret key`);
    }
    if (caller.keyKind === 'publishable') {
      const origin = c.req.header('Origin');
      if (!origin || !caller.settings.allowedOrigins.includes(origin)) {
        throw new ApiError('forbidden_origin', "A publishable key is accepted only from one of its app's allowed origins");
      }
    }
    c.set('caller', caller);
    await next();
  };
}
