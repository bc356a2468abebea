import type { AppCaller } from '../apps/authenticate';
import type { Config } from '../config';

/** Hono's environment for every API route: bindings plus what middleware puts on the context. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    traceId: string;
    config: Config;
    /** Set by the app-key middleware on the routes that take a key. */
    caller: AppCaller;
  };
}
