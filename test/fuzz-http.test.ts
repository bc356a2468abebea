import { env } from 'cloudflare:test';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../src/errors';
import { TEST_APP } from './support/apps';
import { fetchWithEnv } from './support/worker';

/**
 * Property: whatever arrives (method, path, parameters, headers, content type, body: huge,
 * truncated, not UTF-8), the answer is never a 5xx, and every 4xx has the one error shape.
 */

const ADMIN_TOKEN = 'fuzz-admin-token';
const fuzzEnv = { ...env, ADMIN_TOKEN, IP_LIMITS: '100000/60', GLOBAL_SEND_LIMIT: '1000000/60' } as Env;

/** The test app's keys reach past authentication; the rest are refused by it, each in its own way. */
const APP_KEYS = [`Bearer ${TEST_APP.secretKey}`, `Bearer ${TEST_APP.publishableKey}`];
const NOT_APP_KEYS = [
  `Bearer ${ADMIN_TOKEN}`,
  'Bearer wrong',
  'Basic eDp5',
  '',
  `bearer ${ADMIN_TOKEN}`,
  `Bearer sk_${'A'.repeat(40)}`,
  `Bearer pk_${'B'.repeat(40)}`,
  'Bearer sk_short',
  'Bearer sk_dev_local_development_secret_key',
  `Bearer ${TEST_APP.secretKey} extra`,
];

const segment = fc.oneof(
  fc.constantFrom('otp_AAAAAAAAAAAAAAAAAAAAAA', 'otp_', '%00', '..', '%2e%2e', '+919876543210', '+44', '%2B88216', 'null', '-1', '😀', '%ZZ'),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.string({ unit: 'binary', maxLength: 20 }).map(encodeURIComponent),
  fc.string({ minLength: 300, maxLength: 3000 }).map(encodeURIComponent),
);

const path = fc.oneof(
  fc.constantFrom(
    '/v1/otp',
    '/v1/session',
    '/v1/session/logout',
    '/v1/sandbox/messages',
    '/v1/admin/prefix-blocks',
    '/v1/admin/requests',
    '/v1/admin/attempts',
    '/v1/admin/stats',
    '/v1/admin/resends',
    '/admin',
    '/healthz',
    '/openapi.json',
    '/docs',
    '/static/dashboard.js',
    '/',
    '/v1',
    '/v1/admin',
  ),
  segment.map((id) => `/v1/admin/requests/${id}`),
  segment.map((id) => `/v1/admin/resends/${id}`),
  segment.map((id) => `/v1/otp/${id}`),
  segment.map((id) => `/v1/otp/${id}/verify`),
  segment.map((prefix) => `/v1/admin/prefix-blocks/${prefix}`),
  fc.array(segment, { maxLength: 4 }).map((parts) => `/${parts.join('/')}`),
);

const query = fc.oneof(
  fc.constant(''),
  fc
    .dictionary(
      fc.constantFrom('limit', 'phoneNumber', 'cursor', 'since', 'until', 'status', 'outcome', 'errorCode', 'bucket', 'format', 'x'),
      fc.oneof(fc.string({ maxLength: 30 }), fc.integer().map(String)),
    )
    .map((entries) => `?${new URLSearchParams(entries)}`),
  // A parameter given twice.
  fc
    .tuple(fc.constantFrom('limit', 'cursor', 'since', 'status', 'format', 'x'), fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }))
    .map(([name, first, second]) => `?${name}=${encodeURIComponent(first)}&${name}=${encodeURIComponent(second)}`),
);

const jsonValue = fc.jsonValue({ maxDepth: 4 });
const plausibleBody = fc.oneof(
  fc.record(
    { phoneNumber: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('+919876543210', '+15555550100', '+1', '+0123456789'), jsonValue) },
    { requiredKeys: [] },
  ),
  fc.record({ code: fc.oneof(fc.string({ maxLength: 10 }), fc.stringMatching(/^\d{4,8}$/), jsonValue) }, { requiredKeys: [] }),
  fc.record(
    { prefix: fc.string({ maxLength: 10 }), durationSeconds: fc.oneof(fc.integer(), fc.double(), fc.string()), note: fc.string({ maxLength: 300 }) },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      filter: fc.record(
        {
          status: fc.oneof(fc.constantFrom('failed', 'expired', 'sent'), fc.string()),
          since: fc.oneof(
            fc.date().map((d) => (Number.isNaN(d.getTime()) ? 'x' : d.toISOString())),
            fc.string(),
          ),
          phoneNumbers: fc.array(fc.string({ maxLength: 16 }), { maxLength: 5 }),
        },
        { requiredKeys: [] },
      ),
      dryRun: fc.oneof(fc.boolean(), fc.string()),
    },
    { requiredKeys: [] },
  ),
);

const body: fc.Arbitrary<BodyInit | undefined> = fc.oneof(
  fc.constant(undefined),
  plausibleBody.map((value) => JSON.stringify(value)),
  jsonValue.map((value) => JSON.stringify(value)),
  plausibleBody.chain((value) => {
    const text = JSON.stringify(value);
    return fc.integer({ min: 0, max: text.length }).map((cut) => text.slice(0, cut));
  }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }),
  fc.integer({ min: 4000, max: 20000 }).map((size) => JSON.stringify({ phoneNumber: '+919876543210', pad: 'x'.repeat(size) })),
);

const headers = fc.record(
  {
    'Content-Type': fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/vnd.api+json',
      '',
      'application/json; charset=latin1',
    ),
    Authorization: fc.constantFrom(...APP_KEYS, ...NOT_APP_KEYS),
    'Idempotency-Key': fc.oneof(fc.uuid(), fc.string({ maxLength: 300 })),
    Origin: fc.constantFrom('https://otp.test', 'https://evil.example', 'null', TEST_APP.origin),
    Cookie: fc.oneof(fc.string({ maxLength: 100 }), fc.constant('otp_session=abc.def')),
    'CF-Connecting-IP': fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 20 })),
  },
  { requiredKeys: [] },
);

const method = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD');

function buildRequest(m: string, p: string, q: string, h: Record<string, string>, b: BodyInit | undefined): Request | null {
  const safeHeaders = new Headers();
  for (const [name, value] of Object.entries(h)) {
    try {
      safeHeaders.set(name, value);
    } catch {
      // Not a value HTTP can carry at all; a client could not send it either.
    }
  }
  try {
    return new Request(`https://otp.test${p}${q}`, { method: m, headers: safeHeaders, body: m === 'GET' || m === 'HEAD' ? undefined : b });
  } catch {
    return null;
  }
}

type Case = [string, string, string, Record<string, string>, BodyInit | undefined];

/** Anything at all. */
const anyCase: fc.Arbitrary<Case> = fc.tuple(method, path, query, headers, body);

/** Well-formed requests with one part mutated, so the generators also reach past validation. */
const nearValidCase: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(
    fc.constant('POST'),
    fc.constant('/v1/otp'),
    fc.constant(''),
    fc
      .tuple(headers, fc.constantFrom(...APP_KEYS))
      .map(([h, key]) => ({ ...h, Authorization: key, Origin: TEST_APP.origin, 'Content-Type': 'application/json' })),
    fc
      .oneof(fc.constantFrom('+9198', '+9197', '+9199', '+4477', '+1555'), fc.constant('+91'))
      .chain((prefix) => fc.stringMatching(/^\d{6,10}$/).map((rest) => JSON.stringify({ phoneNumber: `${prefix}${rest}` }))),
  ),
  fc.tuple(
    fc.constant('POST'),
    segment.map((id) => `/v1/otp/${id}/verify`),
    fc.constant(''),
    fc
      .tuple(headers, fc.constantFrom(...APP_KEYS))
      .map(([h, key]) => ({ ...h, Authorization: key, 'Content-Type': 'application/json', Origin: TEST_APP.origin })),
    fc.stringMatching(/^\d{4,8}$/).map((code) => JSON.stringify({ code })),
  ),
  fc.tuple(
    fc.constantFrom('GET', 'POST'),
    fc.constant('/v1/admin/prefix-blocks'),
    fc.constant(''),
    headers.map((h) => ({ ...h, Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' })),
    fc.record({ prefix: fc.stringMatching(/^\+[1-9]\d{0,6}$/), durationSeconds: fc.integer({ min: 0, max: 100_000 }) }).map((value) => JSON.stringify(value)),
  ),
);

describe('fuzzing every route', () => {
  it('never answers 5xx; every 4xx is the error shape with a known code', { timeout: 240_000 }, async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.oneof({ arbitrary: anyCase, weight: 3 }, { arbitrary: nearValidCase, weight: 1 }), async ([m, p, q, h, b]) => {
        const request = buildRequest(m, p, q, h, b);
        if (!request) return;
        const response = await fetchWithEnv(request, fuzzEnv);
        seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
        expect(response.status, `${m} ${p}${q}`).toBeLessThan(500);
        if (response.status >= 400 && m !== 'HEAD') {
          const text = await response.text();
          const parsed = JSON.parse(text) as { error: { code: string; message: string; requestId: string } };
          expect(ErrorCode.options).toContain(parsed.error.code);
          expect(typeof parsed.error.message).toBe('string');
          expect(parsed.error.requestId).toMatch(/^req_/);
          expect(text).not.toMatch(/\bat [\w.<>]+ \(|\.ts:\d+/);
        } else {
          await response.arrayBuffer();
        }
      }),
      { numRuns: 3000 },
    );
    // The generators must reach past validation: accepted requests and many kinds of refusal.
    const answered = [...seen.values()].reduce((a, b) => a + b, 0);
    expect(answered).toBeGreaterThan(2500);
    for (const status of [200, 202, 400, 401, 404, 405, 413, 415]) expect(seen.get(status) ?? 0, `answers with ${status}`).toBeGreaterThan(0);
  });
});

describe('fuzzing the app routes without a valid key', () => {
  const requestId = fc.oneof(fc.constant('otp_AAAAAAAAAAAAAAAAAAAAAA'), fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/));
  const appCall = fc.oneof(
    fc.constant<[string, string]>(['POST', '/v1/otp']),
    requestId.map((id): [string, string] => ['GET', `/v1/otp/${id}`]),
    requestId.map((id): [string, string] => ['POST', `/v1/otp/${id}/verify`]),
  );
  const keylessHeaders = fc.tuple(headers, fc.option(fc.constantFrom(...NOT_APP_KEYS), { nil: undefined })).map(([h, authorization]) => {
    const { Authorization: _drawn, ...rest } = h;
    return { ...rest, 'Content-Type': 'application/json', ...(authorization === undefined ? {} : { Authorization: authorization }) };
  });
  const smallBody = fc.oneof(
    fc.constant(undefined),
    plausibleBody.map((value) => JSON.stringify(value)),
    fc.string({ unit: 'binary', maxLength: 200 }),
  );

  it('answer 401 with an error code, whatever else the request holds', { timeout: 120_000 }, async () => {
    const codes = new Set<string>();
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(appCall, keylessHeaders, smallBody, async ([m, p], h, b) => {
        const request = buildRequest(m, p, '', h, b);
        if (!request) return;
        const response = await fetchWithEnv(request, fuzzEnv);
        const text = await response.text();
        expect(response.status, `${m} ${p} ${h.Authorization ?? '(no Authorization)'}`).toBe(401);
        const { error } = JSON.parse(text) as { error: { code: string; requestId: string } };
        expect(['unauthorized', 'invalid_api_key']).toContain(error.code);
        expect(error.requestId).toMatch(/^req_/);
        expect(text).not.toMatch(/\bat [\w.<>]+ \(|\.ts:\d+/);
        codes.add(error.code);
        answered++;
      }),
      { numRuns: 300 },
    );
    expect(answered).toBeGreaterThan(250);
    expect([...codes].sort()).toEqual(['invalid_api_key', 'unauthorized']);
  });
});

describe('fuzzing queue message bodies', () => {
  it('any body is acked (dead-lettered) or retried, and the handler never throws', { timeout: 120_000 }, async () => {
    const { deliver } = await import('./support/queue');
    const { recordingQueue } = await import('./support/faults');
    const deadLetters = recordingQueue();
    const queueEnv = { ...env, DEAD_LETTER_QUEUE: deadLetters.queue } as Env;
    const bodyArbitrary = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.record(
        {
          type: fc.constantFrom('send', 'record_attempts', 'status_check', 'status_checks', 'x'),
          v: fc.oneof(fc.constant(1), fc.integer()),
          requestId: fc.string(),
          checks: fc.array(fc.record({ requestId: fc.string(), check: fc.integer() }, { requiredKeys: [] }), { maxLength: 3 }),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(bodyArbitrary, { minLength: 1, maxLength: 10 }), async (bodies) => {
        const { ids, result } = await deliver(queueEnv, 'otp-send', bodies);
        const settled = new Set([...result.explicitAcks, ...result.retryMessages.map((m) => m.msgId)]);
        for (const id of ids) expect(settled.has(id)).toBe(true);
      }),
      { numRuns: 300 },
    );
    expect(deadLetters.sent.length).toBeGreaterThan(0);
  });
});
