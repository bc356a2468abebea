import { SELF } from 'cloudflare:test';
import { expect } from 'vitest';

/** A Content-Security-Policy header as directive → its values. */
export function cspDirectives(header: string | null): Map<string, string[]> {
  expect(header).toBeTruthy();
  return new Map(
    header!
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .map(([name, ...values]) => [name!, values]),
  );
}

/**
 * Asserts that a page has no inline script or style (a policy of `'self'` would block them) and
 * that every script and style sheet it loads is a file this origin serves as such; returns those
 * files' texts by path.
 */
export async function expectOwnFilesOnly(html: string): Promise<Map<string, string>> {
  expect(html).not.toMatch(/<style\b/i);
  const files = new Map<string, string>();
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
  const sheets = [...html.matchAll(/<link\b[^>]*\brel="stylesheet"[^>]*>/gi)];
  expect(html.match(/<script\b/gi)?.length).toBe(scripts.length);
  const wanted: Array<[string, RegExp]> = [];
  for (const [, attributes, body] of scripts) {
    expect(body).toBe('');
    wanted.push([/\bsrc="(\/[^"/][^"]*)"/.exec(attributes!)?.[1] ?? 'no src', /^text\/javascript\b/]);
  }
  for (const [tag] of sheets) wanted.push([/\bhref="(\/[^"/][^"]*)"/.exec(tag)?.[1] ?? 'no href', /^text\/css\b/]);
  for (const [path, type] of wanted) {
    expect(path).toMatch(/^\/static\//);
    const response = await SELF.fetch(`https://otp.test${path}`);
    expect(response.status, path).toBe(200);
    expect(response.headers.get('Content-Type'), path).toMatch(type);
    expect(response.headers.get('X-Content-Type-Options'), path).toBe('nosniff');
    files.set(path, await response.text());
  }
  return files;
}
