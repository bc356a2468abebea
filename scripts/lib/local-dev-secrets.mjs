/**
 * The secrets of local development. They exist only where wrangler dev runs: `npm run dev` writes
 * them to `.dev.vars` (gitignored, never uploaded by `wrangler deploy`), and the end-to-end
 * scripts, soak, benchmarks and the browser test pass them with `--var` (see
 * docs/local-development.md). The Worker itself has no built-in secret. The shared ones are public
 * on purpose; the token signing key is made fresh instead (per machine in `.dev.vars`, per run
 * with `--var`), since the tokens it signs are meant to be checked by other programs.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { newTokenSigningKey } from './token-signing-key.mjs';

// The development app's id and keys (public, development-only values: docs/apps.md), for every
// script that calls a local Worker's /v1/otp routes.
export { DEV_APP, DEV_APP_AUTH } from './development-app.mjs';

export const LOCAL_DEV_SECRETS = Object.freeze({
  OTP_SECRET: 'local-dev-otp-secret',
  SESSION_SECRET: 'local-dev-session-secret',
  ADMIN_TOKEN: 'local-dev-admin-token',
  WEBHOOK_SECRET_KEY: 'local-dev-webhook-secret-key',
});

/** The secrets whose local value is generated, each as its `.dev.vars` line wants it. */
const GENERATED_DEV_SECRETS = {
  // dotenv takes a single-quoted value literally: the JSON's double quotes stay as they are.
  TOKEN_SIGNING_KEY: () => `'${JSON.stringify(newTokenSigningKey())}'`,
};

let runSecrets;

/**
 * What a script that starts `wrangler dev` passes with `--var`: the public local values, and a
 * TOKEN_SIGNING_KEY generated once per run (the same for every wrangler dev this process starts).
 */
export function localRunSecrets() {
  runSecrets ??= Object.freeze({ ...LOCAL_DEV_SECRETS, TOKEN_SIGNING_KEY: JSON.stringify(newTokenSigningKey()) });
  return runSecrets;
}

const HEADER = `# Local development only. \`npm run dev\` wrote this file (scripts/dev-vars.mjs) and never changes
# a value in it. wrangler dev reads it; wrangler deploy never uploads it: a deployed Worker gets
# its secrets from \`wrangler secret put\`, and these values must never be set there.
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
  const values = { ...LOCAL_DEV_SECRETS, ...GENERATED_DEV_SECRETS };
  const missing = Object.keys(values).filter((name) => !present.has(name));
  if (missing.length === 0) return missing;
  const line = (name) => `${name}=${name in GENERATED_DEV_SECRETS ? GENERATED_DEV_SECRETS[name]() : LOCAL_DEV_SECRETS[name]}`;
  const lines = missing.map(line).join('\n');
  if (existing === null) writeFileSync(path, `${HEADER}${lines}\n`);
  else
    writeFileSync(
      path,
      `${existing}${existing === '' || existing.endsWith('\n') ? '' : '\n'}# Added by \`npm run dev\` for local development only.\n${lines}\n`,
    );
  return missing;
}
