#!/usr/bin/env node
/**
 * Run by `npm run dev` before wrangler dev: gives the local Worker its secrets in `.dev.vars`
 * (see scripts/lib/local-dev-secrets.mjs), so that a fresh clone runs with no manual step.
 */
import { join } from 'node:path';
import { ensureDevVars } from './lib/local-dev-secrets.mjs';
import { ROOT } from './lib/wrangler.mjs';

const added = ensureDevVars(join(ROOT, '.dev.vars'));
if (added.length > 0) console.log(`.dev.vars: added the local development values of ${added.join(', ')} (local only, never deployed)`);
