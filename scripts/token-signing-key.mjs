#!/usr/bin/env node
/**
 * `npm run --silent token-key`: prints a new TOKEN_SIGNING_KEY (a private EC P-256 JWK, one line
 * of JSON) on stdout, for `wrangler secret put`. It is printed, never written anywhere:
 *
 *   npm run --silent token-key | npm run wrangler -- secret put TOKEN_SIGNING_KEY --env production
 */
import { newTokenSigningKey } from './lib/token-signing-key.mjs';

const key = newTokenSigningKey();
process.stdout.write(`${JSON.stringify(key)}\n`);
if (process.stdout.isTTY) {
  console.error(`A new private signing key, kid ${key.kid}: keep it secret. Rotation steps: docs/verification.md#rotating-the-signing-key`);
}
