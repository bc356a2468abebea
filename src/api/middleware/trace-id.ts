import type { MiddlewareHandler } from 'hono';
import { newTraceId } from '../../ids';
import type { AppEnv } from '../app-env';

/** Gives each API call a trace id, answered as `X-Request-Id` and quoted in error bodies. */
export function traceId(): MiddlewareHandler<AppEnv> {
  return async function traceIdMiddleware(c, next) {
    const id = newTraceId();
    c.set('traceId', id);
    await next();
    c.header('X-Request-Id', id);
  };
}
