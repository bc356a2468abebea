import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../src/errors';
import { adminFetch } from './support/admin';
import { createApp, keyOf } from './support/admin-apps';

/**
 * Property: whatever an operator (or a script) sends to the apps routes (bodies near the real ones
 * and far from them, odd ids, odd X-Operator values), the answer is never a 5xx, every 4xx is the
 * error shape with a known code, and no answer but a 201 holds a key.
 */

const settingsValue = fc.record(
  {
    otpLength: fc.oneof(fc.integer({ min: -2, max: 12 }), fc.double(), fc.string({ maxLength: 3 })),
    otpTtlSeconds: fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constant(null)),
    allowedCountryCodes: fc.array(fc.oneof(fc.stringMatching(/^[0-9]{1,4}$/), fc.string({ maxLength: 4 })), { maxLength: 4 }),
    templateId: fc.string({ maxLength: 120 }),
    dailySmsBudget: fc.oneof(fc.integer(), fc.double()),
    allowedOrigins: fc.array(fc.oneof(fc.webUrl(), fc.constantFrom('https://a.example', '*', 'null', 'http://localhost:8787')), { maxLength: 3 }),
    turnstileRequired: fc.oneof(fc.boolean(), fc.string({ maxLength: 4 })),
    sessionCookie: fc.boolean(),
    testNumbers: fc.array(fc.record({ phoneNumber: fc.constantFrom('+15005550006', '+1', 'x'), code: fc.stringMatching(/^[0-9]{2,9}$/) }), { maxLength: 3 }),
    unknownSetting: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: [] },
);

const body = fc.oneof(
  fc
    .record(
      {
        name: fc.oneof(fc.string({ maxLength: 120 }), fc.integer()),
        settings: fc.oneof(settingsValue, fc.jsonValue({ maxDepth: 2 })),
        disabled: fc.oneof(fc.boolean(), fc.string({ maxLength: 5 })),
        kind: fc.oneof(fc.constantFrom('secret', 'publishable'), fc.string({ maxLength: 12 })),
        overlapSeconds: fc.oneof(fc.integer({ min: -10, max: 40 * 86_400 }), fc.double(), fc.string({ maxLength: 6 })),
      },
      { requiredKeys: [] },
    )
    .map((value) => JSON.stringify(value)),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 40 }),
  fc.constant(undefined),
);

/** Mostly the real id, so that calls reach past the lookup; else an unknown one or garbage. */
const id = (prefix: string, real: string) =>
  fc.oneof(
    { arbitrary: fc.constant(real), weight: 4 },
    { arbitrary: fc.constant(`${prefix}doesnotexist`), weight: 1 },
    { arbitrary: fc.string({ maxLength: 50 }).map(encodeURIComponent), weight: 1 },
  );

describe('fuzzing the apps routes', () => {
  it('never answers 5xx; every 4xx is the error shape with a known code; only a 201 holds a key', { timeout: 120_000 }, async () => {
    const { app } = await createApp({ name: 'Fuzzed' });
    const route = fc.oneof(
      fc.tuple(fc.constantFrom('GET', 'POST'), fc.constant('/v1/admin/apps')),
      fc.tuple(
        fc.constantFrom('GET', 'PATCH', 'DELETE'),
        id('app_', app.id).map((appId) => `/v1/admin/apps/${appId}`),
      ),
      fc.tuple(
        fc.constant('POST'),
        id('app_', app.id).map((appId) => `/v1/admin/apps/${appId}/keys`),
      ),
      fc.tuple(
        fc.constantFrom('POST', 'DELETE'),
        fc.tuple(id('app_', app.id), id('key_', keyOf(app, 'publishable').id)).map(([appId, keyId]) => `/v1/admin/apps/${appId}/keys/${keyId}`),
      ),
      fc.tuple(
        fc.constant('POST'),
        fc.tuple(id('app_', app.id), id('key_', keyOf(app, 'secret').id)).map(([appId, keyId]) => `/v1/admin/apps/${appId}/keys/${keyId}/rotate`),
      ),
    );
    const operator = fc.option(fc.oneof(fc.constantFrom('alice', ''), fc.string({ maxLength: 70 })), { nil: undefined });
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(route, body, operator, async ([method, path], requestBody, actor) => {
        const headers = new Headers({ 'Content-Type': 'application/json' });
        try {
          if (actor !== undefined) headers.set('X-Operator', actor);
        } catch {
          // Not a value HTTP can carry at all.
        }
        const response = await adminFetch(path, { method, headers, body: method === 'GET' ? undefined : requestBody });
        seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
        const text = await response.text();
        expect(response.status, `${method} ${path} ${requestBody}: ${text}`).toBeLessThan(500);
        if (response.status !== 201) expect(text).not.toMatch(/"(sk|pk)_[A-Za-z0-9]{40}"/);
        if (response.status >= 400) expect(ErrorCode.options).toContain(JSON.parse(text).error.code);
      }),
      { numRuns: 400 },
    );
    expect(seen.get(400) ?? 0).toBeGreaterThan(0);
    expect((seen.get(200) ?? 0) + (seen.get(201) ?? 0)).toBeGreaterThan(0);
  });
});
