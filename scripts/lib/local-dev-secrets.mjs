/**
 * The secrets of local development, public on purpose (see docs/local-development.md). They exist
 * only where wrangler dev runs: `npm run dev` writes them to `.dev.vars` (gitignored, never
 * uploaded by `wrangler deploy`), and the end-to-end scripts, soak, benchmarks and the browser
 * test pass them with `--var`. The Worker itself has no built-in secret.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export const LOCAL_DEV_SECRETS = Object.freeze({
  OTP_SECRET: 'local-dev-otp-secret',
  SESSION_SECRET: 'local-dev-session-secret',
  ADMIN_TOKEN: 'local-dev-admin-token',
});

const HEADER = `# Local development only. \`npm run dev\` wrote this file (scripts/dev-vars.mjs) and never changes
# a value in it. wrangler dev reads it; wrangler deploy never uploads it: a deployed Worker gets
# its secrets from \`wrangler secret put\`, and these public values must never be set there.
`;

/**
 * Makes sure `path` holds every local development secret: writes the file when it is missing and
 * appends only the names it lacks (a value already there is kept). Answers the names it added.
 */
export function ensureDevVars(path) {
  const existing = existsSync(path) ? readFileSync(path, 'utf8') : null;
  const present = new Set(
    (existing ?? '')
      .split('\n')
      .map((line) => /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line)?.[1])
      .filter(Boolean),
  );
  const missing = Object.keys(LOCAL_DEV_SECRETS).filter((name) => !present.has(name));
  if (missing.length === 0) return missing;
  const lines = missing.map((name) => `${name}=${LOCAL_DEV_SECRETS[name]}`).join('\n');
  if (existing === null) writeFileSync(path, `${HEADER}${lines}\n`);
  else
    writeFileSync(
      path,
      `${existing}${existing === '' || existing.endsWith('\n') ? '' : '\n'}# Added by \`npm run dev\` for local development only.\n${lines}\n`,
    );
  return missing;
}
