import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { servePublicFile } from '../public-files';

/** The pages' scripts and style sheets: public/static/, as files, revalidated by ETag. */
export const staticFileRoutes = new Hono<AppEnv>().get('/static/*', (c) => servePublicFile(c, c.req.path, { conditional: true }));
