import { describe, expect, it } from 'vitest';
import committedDocument from '../client/openapi.json?raw';
import { createApp } from '../src/api/app';
import { WebhookEventSchema } from '../src/api/openapi-webhooks';
import { WEBHOOK_EVENT_TYPES } from '../src/db/webhooks';
import { codeToStatus, ErrorCode } from '../src/errors';
import { eventBody } from '../src/webhooks/event-payload';
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

  it('describes the webhook events exactly as the service posts them, field for field', async () => {
    const document = (await servedDocument()) as { webhooks?: Record<string, { post?: { operationId?: string } }> };
    expect(document.webhooks?.otpEvent?.post?.operationId).toBe('otpEvent');
    for (const type of WEBHOOK_EVENT_TYPES) {
      for (const [phone, includePhoneNumber] of [
        ['+919876543210', false],
        ['+919876543210', true],
        [null, false],
      ] as const) {
        const event = {
          id: `evt_3q2-7wEjQ1mB0Yk5c9f8Zg_${type.slice(4)}`,
          app_id: 'app_QmB0Yk5c9f8Zg3q2-7wEj1',
          request_id: 'otp_3q2-7wEjQ1mB0Yk5c9f8Zg',
          type,
          error_code: type === 'otp.failed' ? 'provider_rejected_request' : null,
          occurred_at: Date.UTC(2026, 10, 26, 10),
          attempts: 1,
          round_attempts: 1,
          retry_until: Date.UTC(2026, 10, 27, 10),
          provider: type === 'otp.sent' || type === 'otp.delivered' ? 'twilio' : null,
          channel: type === 'otp.sent' || type === 'otp.delivered' ? 'whatsapp' : null,
          phone_number: phone,
        };
        const posted = JSON.parse(eventBody(event, includePhoneNumber));
        // Strict at both levels: a field the service adds must be documented too.
        const strict = WebhookEventSchema.extend({ data: WebhookEventSchema.shape.data.strict() }).strict();
        expect(strict.parse(posted)).toEqual(posted);
      }
    }
  });

  it('is what client/openapi.json holds (`npm run openapi` rewrites it, and the client types with it)', async () => {
    expect(await servedDocument()).toEqual(JSON.parse(committedDocument));
  });
});
