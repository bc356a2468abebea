import type { Context } from 'hono';
import type { AppEnv } from './app-env';

/**
 * The files in `public/`, read through the ASSETS binding (wrangler.toml `[assets]`, which runs
 * this Worker first for every path, so the API's middleware and error answers apply to them too).
 * An absent file answers like any unknown path: the JSON 404.
 */
export async function servePublicFile(c: Context<AppEnv>, file: string, init: { conditional?: boolean } = {}): Promise<Response> {
  // Only a file's own cache validators pass on (a 304 for an unchanged script or style sheet).
  const headers = new Headers();
  const ifNoneMatch = c.req.header('If-None-Match');
  if (init.conditional && ifNoneMatch) headers.set('If-None-Match', ifNoneMatch);
  const asset = await c.env.ASSETS.fetch(new Request(new URL(file, c.req.url), { headers }));
  if (asset.status === 404) return c.notFound();
  // A copy: the binding's headers are immutable and the app's middleware adds its own.
  return new Response(asset.body, asset);
}

/**
 * Removes the elements marked `data-development-only` (a hint naming where local secrets live)
 * unless this is the development environment.
 */
export function withoutDevelopmentOnly(page: Response, development: boolean): Response {
  if (development) return page;
  const rewritten = new HTMLRewriter()
    .on('[data-development-only]', {
      element(element) {
        element.remove();
      },
    })
    .transform(page);
  // The file's validator no longer describes this body.
  rewritten.headers.delete('ETag');
  return rewritten;
}
