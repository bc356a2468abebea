import { TrieRouter } from 'hono/router/trie-router';
import type { RouterRoute } from 'hono/types';

/**
 * The methods a path answers to, read from the routes registered on the app (middleware, which
 * Hono registers for every method as `ALL`, is left out), so `Allow` never drifts from the routes.
 * Built on first use, once every route is registered.
 */
export function allowedMethodsOf(routes: readonly RouterRoute[]): (path: string) => string[] {
  let router: TrieRouter<string> | undefined;
  return (path) => {
    if (!router) {
      router = new TrieRouter<string>();
      for (const route of routes) if (route.method !== 'ALL') router.add('ALL', route.path, route.method);
    }
    const methods = new Set(router.match('GET', path)[0].map(([method]) => method));
    // Hono answers HEAD with the GET route.
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  };
}
