#!/usr/bin/env node
/**
 * `npm run docs:config`: rewrites the settings tables of docs/configuration.md from the schema in
 * src/config.ts (Node strips its types). test/config-docs.test.ts fails while they differ.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOCS_PATH, withSettingsTables } from '../src/config-docs.ts';
import { ROOT } from './lib/wrangler.mjs';

const path = join(ROOT, DOCS_PATH);
const before = existsSync(path) ? readFileSync(path, 'utf8') : '# Configuration\n';
const after = withSettingsTables(before);
if (after === before) {
  console.log(`${DOCS_PATH} is up to date`);
} else {
  writeFileSync(path, after);
  console.log(`${DOCS_PATH}: settings tables rewritten from src/config.ts`);
}
