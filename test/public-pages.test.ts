import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import wranglerToml from '../wrangler.toml?raw';
import { envWith, fetchWithEnv } from './support/worker';

/** The files in public/ reach a browser only through the routes the Worker gives them. */
describe('the pages in public/', () => {
  it('show the local development hint in the development environment only', async () => {
    const hint = 'data-testid="development-hint"';
    const here = await (await SELF.fetch('https://otp.test/admin')).text();
    expect(here).toContain('data-testid="sign-in-panel"');
    expect(here).not.toContain(hint);
    expect(here).not.toContain('.dev.vars');
    const development = await fetchWithEnv(new Request('http://localhost/admin'), envWith({ ENVIRONMENT: 'development' }));
    expect(development.status).toBe(200);
    expect(await development.text()).toContain(hint);
  });

  it('serve the pages’ scripts and style sheets, revalidated by ETag', async () => {
    const first = await SELF.fetch('https://otp.test/static/dashboard.js');
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    const etag = first.headers.get('ETag');
    expect(etag).toBeTruthy();
    const again = await SELF.fetch('https://otp.test/static/dashboard.js', { headers: { 'If-None-Match': etag! } });
    expect(again.status).toBe(304);
    expect(again.headers.get('X-Content-Type-Options')).toBe('nosniff');
  });

  it('answer a file that is not there, or not served, like any unknown path', async () => {
    for (const path of ['/static/nope.js', '/static/', '/dashboard.html', '/docs.html', '/tsconfig.json', '/static/../tsconfig.json', '/admin/', '/']) {
      const response = await SELF.fetch(`https://otp.test${path}`);
      expect(response.status, path).toBe(404);
      const body = await response.json<{ error: { code: string } }>();
      expect(body.error.code, path).toBe('not_found');
    }
    const wrongMethod = await SELF.fetch('https://otp.test/static/dashboard.js', { method: 'POST' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('Allow')).toBe('GET, HEAD');
  });

  it('are configured alike for local runs and production, with the Worker first for every path', () => {
    const table = (name: string) => new RegExp(`^\\[${name.replaceAll('.', '\\.')}\\]\\n((?:[a-z_]+ = .*\\n)+)`, 'm').exec(wranglerToml)?.[1];
    const local = table('assets');
    expect(local).toContain('binding = "ASSETS"');
    expect(local).toContain('run_worker_first = true');
    expect(table('env.production.assets')).toBe(local);
  });
});
