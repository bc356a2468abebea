import { SELF, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';

const url = 'https://otp.test/v1/otp';
const jsonHeaders = { 'Content-Type': 'application/json' };

const badRequests: Array<{ name: string; init: RequestInit; status: number; code: string }> = [
  { name: 'no body', init: { method: 'POST', headers: jsonHeaders }, status: 400, code: 'invalid_json' },
  { name: 'malformed JSON', init: { method: 'POST', headers: jsonHeaders, body: '{"phoneNumber":' }, status: 400, code: 'invalid_json' },
  { name: 'JSON array', init: { method: 'POST', headers: jsonHeaders, body: '[]' }, status: 400, code: 'invalid_request' },
  { name: 'missing phone', init: { method: 'POST', headers: jsonHeaders, body: '{}' }, status: 400, code: 'invalid_phone_number' },
  { name: 'phone as number', init: { method: 'POST', headers: jsonHeaders, body: '{"phoneNumber":919876543210}' }, status: 400, code: 'invalid_phone_number' },
  { name: 'no plus sign', init: { method: 'POST', headers: jsonHeaders, body: '{"phoneNumber":"919876543210"}' }, status: 400, code: 'invalid_phone_number' },
  { name: 'spaces', init: { method: 'POST', headers: jsonHeaders, body: '{"phoneNumber":"+91 98765 43210"}' }, status: 400, code: 'invalid_phone_number' },
  { name: 'country code 0', init: { method: 'POST', headers: jsonHeaders, body: '{"phoneNumber":"+0123456789"}' }, status: 400, code: 'invalid_phone_number' },
  { name: 'too long', init: { method: 'POST', headers: jsonHeaders, body: '{"phoneNumber":"+1234567890123456"}' }, status: 400, code: 'invalid_phone_number' },
  { name: 'too short', init: { method: 'POST', headers: jsonHeaders, body: '{"phoneNumber":"+12345"}' }, status: 400, code: 'invalid_phone_number' },
  { name: 'unknown field', init: { method: 'POST', headers: jsonHeaders, body: '{"phoneNumber":"+919876543210","otp":"1"}' }, status: 400, code: 'invalid_request' },
  { name: 'text body', init: { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'hello' }, status: 415, code: 'unsupported_media_type' },
  { name: 'form body', init: { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'phoneNumber=%2B919876543210' }, status: 415, code: 'unsupported_media_type' },
  { name: 'body over 4 KiB', init: { method: 'POST', headers: jsonHeaders, body: JSON.stringify({ phoneNumber: '+919876543210', pad: 'x'.repeat(5000) }) }, status: 413, code: 'payload_too_large' },
  { name: 'short Idempotency-Key', init: { method: 'POST', headers: { ...jsonHeaders, 'Idempotency-Key': 'abc' }, body: '{"phoneNumber":"+919876543210"}' }, status: 400, code: 'invalid_idempotency_key' },
  { name: 'Idempotency-Key with spaces', init: { method: 'POST', headers: { ...jsonHeaders, 'Idempotency-Key': 'has spaces in it' }, body: '{"phoneNumber":"+919876543210"}' }, status: 400, code: 'invalid_idempotency_key' },
];

describe('POST /v1/otp refuses bad input', () => {
  it.each(badRequests)('$name → $status $code', async ({ init, status, code }) => {
    const response = await SELF.fetch(url, init);
    expect(response.status).toBe(status);
    const body = await response.json<{ error: { code: string; message: string; requestId: string } }>();
    expect(body.error.code).toBe(code);
    expect(body.error.message).toEqual(expect.any(String));
    expect(body.error.requestId).toBe(response.headers.get('X-Request-Id'));
    expect(JSON.stringify(body)).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it('a refused request reaches neither D1 nor the queue', async () => {
    for (const { init } of badRequests) await SELF.fetch(url, init);
    const { n } = (await env.DB.prepare('SELECT COUNT(*) AS n FROM otp_requests').first<{ n: number }>())!;
    expect(n).toBe(0);
  });
});

describe('other routes', () => {
  it('unknown paths answer 404 in the error shape', async () => {
    const response = await SELF.fetch('https://otp.test/v1/nothing-here');
    expect(response.status).toBe(404);
    expect((await response.json<{ error: { code: string } }>()).error.code).toBe('not_found');
  });

  it('a malformed request id is a 400, an unknown one a 404', async () => {
    const bad = await SELF.fetch('https://otp.test/v1/otp/not-an-id');
    expect(bad.status).toBe(400);
    const unknown = await SELF.fetch('https://otp.test/v1/otp/otp_AAAAAAAAAAAAAAAAAAAAAA');
    expect(unknown.status).toBe(404);
    expect((await unknown.json<{ error: { code: string } }>()).error.code).toBe('not_found');
  });

  it('serves liveness, the OpenAPI document and its docs page', async () => {
    const health = await SELF.fetch('https://otp.test/healthz');
    expect(await health.json()).toEqual({ ok: true, providerMode: 'sandbox' });
    const spec = await (await SELF.fetch('https://otp.test/openapi.json')).json<{ openapi: string; paths: Record<string, unknown> }>();
    expect(spec.openapi).toBe('3.1.0');
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/otp', '/v1/otp/{requestId}', '/healthz']));
    const docs = await SELF.fetch('https://otp.test/docs');
    expect(docs.headers.get('Content-Type')).toContain('text/html');
    expect(await docs.text()).toContain('/openapi.json');
  });

  it('sends security headers on every answer', async () => {
    for (const path of ['/healthz', '/v1/otp/not-an-id', '/nope']) {
      const response = await SELF.fetch(`https://otp.test${path}`);
      expect(response.headers.get('X-Content-Type-Options')).toBe('nosniff');
      expect(response.headers.get('Strict-Transport-Security')).toContain('max-age=');
      expect(response.headers.get('X-Frame-Options')).toBe('SAMEORIGIN');
    }
  });
});
