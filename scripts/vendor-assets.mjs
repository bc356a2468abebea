#!/usr/bin/env node
/**
 * Copies Swagger UI's standalone bundle and style sheet (the `swagger-ui-dist` package, its
 * version pinned by package-lock.json) into public/static/vendor/swagger-ui/, where the Worker
 * serves them to the /docs page from its own origin: no CDN at runtime. Run by `npm install`
 * (postinstall), `npm run dev`, `npm test`, `npm run build` and `npm run deploy`; the copies are not
 * committed (.gitignore). Copies only what changed, and says nothing when nothing did.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = join(ROOT, 'node_modules', 'swagger-ui-dist');
const TARGET = join(ROOT, 'public', 'static', 'vendor', 'swagger-ui');
/** The files the page loads, and the licence that goes with them. */
const FILES = ['swagger-ui-bundle.js', 'swagger-ui.css', 'LICENSE', 'NOTICE'];

if (!existsSync(SOURCE)) {
  console.error('swagger-ui-dist is not installed: run `npm install`');
  process.exit(1);
}
mkdirSync(TARGET, { recursive: true });
const copied = [];
for (const file of FILES) {
  const from = join(SOURCE, file);
  const to = join(TARGET, file);
  if (existsSync(to) && readFileSync(to).equals(readFileSync(from))) continue;
  copyFileSync(from, to);
  copied.push(file);
}
if (copied.length) {
  const { version } = JSON.parse(readFileSync(join(SOURCE, 'package.json'), 'utf8'));
  console.log(`public/static/vendor/swagger-ui: ${copied.join(', ')} from swagger-ui-dist ${version}`);
}
