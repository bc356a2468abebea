import { describe, expect, it } from 'vitest';
import committedDocument from '../client/openapi.json?raw';
import { createApp } from '../src/api/app';
import { codeToStatus, ErrorCode } from '../src/errors';
import { codesNamedIn, operations, servedDocument } from './support/openapi';

const CODES = ErrorCode.options;

/** The app's routes as the document writes them (`:id` → `{id}`, a trailing `*` → `{file}`), middleware left out. */
function appRoutes(): string[] {
  const routes = new Set<string>();
  for (const { method, path } of createApp().routes) {
    // Middleware is registered for every method, as ALL.
    if (method === 'ALL') continue;
    routes.add(`${method} ${path.replace(/:(\w+)/g, '{$1}').replace(/\/\*$/, '/{file}')}`);
  }
  return [...routes].sort();
}

describe('the OpenAPI document', () => {
  it('has every route the app answers, each once, with a unique operationId and one defined, described tag', async () => {
    const document = await servedDocument();
    const documented = operations(document);
    expect(documented.map(({ method, path }) => `${method} ${path}`).sort()).toEqual(appRoutes());
    const tags = new Map((document.tags ?? []).map((tag) => [tag.name, tag.description]));
    const ids = new Set<string>();
    for (const { method, path, operation } of documented) {
      const name = `${method} ${path}`;
      expect(operation.operationId, name).toMatch(/^[a-z][A-Za-z]+$/);
      expect(ids.has(operation.operationId!), `${name}: operationId ${operation.operationId} is taken`).toBe(false);
      ids.add(operation.operationId!);
      expect(operation.tags, name).toHaveLength(1);
      expect(tags.get(operation.tags![0]!), `${name}: tag ${operation.tags![0]} is not defined with a description`).toBeTruthy();
      expect(operation.summary, name).toBeTruthy();
    }
  });

  it('names a server, and the security of every operation from the schemes it defines', async () => {
    const document = await servedDocument();
    expect(document.servers?.length).toBeGreaterThan(0);
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual(['adminBearer', 'publishableKey', 'secretKey', 'sessionCookie']);
    for (const { method, path, operation } of operations(document)) {
      const name = `${method} ${path}`;
      // Explicitly public ([]) or naming defined schemes; never left unsaid.
      expect(operation.security, name).toBeDefined();
      for (const requirement of operation.security!)
        for (const scheme of Object.keys(requirement)) expect(document.components.securitySchemes, name).toHaveProperty(scheme);
      if (path.startsWith('/v1/admin/')) expect(operation.security, name).toEqual([{ adminBearer: [] }]);
      if (path.startsWith('/v1/otp'))
        expect(
          operation.security!.map((requirement) => Object.keys(requirement)[0]),
          name,
        ).toContain('secretKey');
    }
  });

  it('declares X-Request-Id on every answer of every operation', async () => {
    const document = await servedDocument();
    for (const { method, path, operation } of operations(document)) {
      for (const [status, response] of Object.entries(operation.responses)) {
        expect(response.headers ?? {}, `${method} ${path} ${status}`).toHaveProperty('X-Request-Id');
      }
    }
  });

  it('declares, for every error code an operation names, its status with that code', async () => {
    const document = await servedDocument();
    let named = 0;
    for (const { method, path, operation } of operations(document)) {
      const text = [operation.description, ...(operation.parameters ?? []).map((parameter) => parameter.description)].join('\n');
      // A code in backticks, or one written bare that no English word could be (it has an underscore).
      const mentioned = CODES.filter((code) => text.includes(`\`${code}\``) || (code.includes('_') && new RegExp(`\\b${code}\\b`).test(text)));
      named += mentioned.length;
      for (const code of mentioned) {
        const response = operation.responses[String(codeToStatus[code])];
        expect(response, `${method} ${path} names ${code} but declares no ${codeToStatus[code]}`).toBeDefined();
        expect(codesNamedIn(response!.description, CODES), `${method} ${path} ${codeToStatus[code]}`).toContain(code);
      }
    }
    // The descriptions do name codes: the check above is not vacuous.
    expect(named).toBeGreaterThan(20);
  });

  it('lists under each error status only codes of that status', async () => {
    const document = await servedDocument();
    for (const { method, path, operation } of operations(document)) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) < 400) continue;
        const listed = codesNamedIn(response.description, CODES);
        expect(listed.length, `${method} ${path} ${status} names no error code`).toBeGreaterThan(0);
        for (const code of listed) expect(codeToStatus[code], `${method} ${path} ${status} lists ${code}`).toBe(Number(status));
      }
    }
  });

  it('is what client/openapi.json holds (`npm run openapi` rewrites it, and the client types with it)', async () => {
    expect(await servedDocument()).toEqual(JSON.parse(committedDocument));
  });
});
