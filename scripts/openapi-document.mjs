#!/usr/bin/env node
/**
 * `npm run openapi`: writes the Worker's OpenAPI document, exactly as it serves it at /openapi.json,
 * to client/openapi.json (the typed client is generated from that file). `--out FILE` writes it
 * elsewhere; `--check` writes nothing and exits 1 when the file differs from the document;
 * `--lint` (`npm run lint:openapi`) lints the document with Redocly CLI (redocly.yaml).
 *
 * The app is bundled for Node with esbuild (its Durable Object base class, `cloudflare:workers`,
 * replaced by an empty class: building the document runs no route). test/openapi-document.test.ts
 * compares the committed file with what the Worker serves, inside workerd.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { ROOT } from './lib/wrangler.mjs';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: join(ROOT, 'client', 'openapi.json') },
    check: { type: 'boolean', default: false },
    lint: { type: 'boolean', default: false },
  },
});

/** The Worker's document, as JSON text with a final newline. */
async function openApiDocumentText() {
  const tmp = mkdtempSync(join(tmpdir(), 'otpd-openapi-'));
  try {
    const outfile = join(tmp, 'document.mjs');
    await build({
      stdin: {
        contents:
          "import { createApp } from './src/api/app.ts';\nimport { DOCUMENT_CONFIG } from './src/api/openapi-document.ts';\n" +
          'export const document = createApp().getOpenAPI31Document(DOCUMENT_CONFIG);\n',
        resolveDir: ROOT,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile,
      logLevel: 'warning',
      plugins: [
        {
          name: 'cloudflare-workers-stub',
          setup(pluginBuild) {
            pluginBuild.onResolve({ filter: /^cloudflare:workers$/ }, () => ({ path: 'cloudflare:workers', namespace: 'stub' }));
            pluginBuild.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: 'export class DurableObject {}', loader: 'js' }));
          },
        },
      ],
    });
    const { document } = await import(pathToFileURL(outfile).href);
    return `${JSON.stringify(document, null, 2)}\n`;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const text = await openApiDocumentText();
if (values.lint) {
  const tmp = mkdtempSync(join(tmpdir(), 'otpd-openapi-lint-'));
  const file = join(tmp, 'openapi.json');
  writeFileSync(file, text);
  const redocly = join(ROOT, 'node_modules', '.bin', 'redocly');
  const linted = spawnSync(redocly, ['lint', '--config', join(ROOT, 'redocly.yaml'), file], {
    stdio: 'inherit',
    env: { ...process.env, REDOCLY_TELEMETRY: 'off' },
  });
  rmSync(tmp, { recursive: true, force: true });
  process.exit(linted.status ?? 1);
}
const shown = relative(process.cwd(), values.out) || values.out;
if (values.check) {
  let current = '';
  try {
    current = readFileSync(values.out, 'utf8');
  } catch {
    /* missing: differs */
  }
  if (current !== text) {
    console.error(`${shown} differs from the Worker's OpenAPI document: run \`npm run openapi\``);
    process.exit(1);
  }
  console.log(`${shown} is the Worker's OpenAPI document`);
} else {
  writeFileSync(values.out, text);
  console.log(`${shown}: the Worker's OpenAPI document`);
}
