import { SELF } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { deriveCode } from '../src/codes';
import { SANDBOX_MAGIC_NUMBERS } from '../src/providers/sandbox';
import { adminFetch } from './support/admin';
import { TEST_APP, withKey } from './support/apps';
import { TEST_OTP_SECRET, uniquePhone } from './support/fixtures';

const BASE = 'https://otp.test';
/** A POST as the test app, with its secret key. */
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  SELF.fetch(`${BASE}${path}`, { method: 'POST', headers: withKey({ 'Content-Type': 'application/json', ...headers }), body: JSON.stringify(body) });

async function waitForStatus(requestId: string, wanted: string[]) {
  for (let i = 0; i < 100; i++) {
    const { status } = await (await SELF.fetch(`${BASE}/v1/otp/${requestId}`, { headers: withKey() })).json<{ status: string }>();
    if (wanted.includes(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${requestId} never reached ${wanted.join('/')}`);
}

describe('nothing secret in the logs', () => {
  it('a whole flow (send, delivery, failures, wrong and right codes, session) logs no full number and no code', { timeout: 30_000 }, async () => {
    const lines: string[] = [];
    const capture = (...args: unknown[]) => lines.push(args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' '));
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) => vi.spyOn(console, level).mockImplementation(capture));

    const phone = uniquePhone();
    const { requestId } = await (await post('/v1/otp', { phoneNumber: phone })).json<{ requestId: string }>();
    await post('/v1/otp', { phoneNumber: phone }); // rate limited
    await post('/v1/otp', { phoneNumber: `${phone}99999` }); // invalid
    await waitForStatus(requestId, ['sent']);
    const code = await deriveCode(TEST_OTP_SECRET, requestId, 6);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    await post(`/v1/otp/${requestId}/verify`, { code: wrong });
    const verified = await post(`/v1/otp/${requestId}/verify`, { code });
    expect(verified.status).toBe(200);
    const cookie = verified.headers.get('Set-Cookie')!.split(';')[0]!;
    await SELF.fetch(`${BASE}/v1/session`, { headers: { Cookie: cookie } });
    await SELF.fetch(`${BASE}/v1/session/logout`, { method: 'POST', headers: { Cookie: cookie } });
    const revoked = await adminFetch('/v1/admin/sessions/revoke', { method: 'POST', body: JSON.stringify({ phoneNumber: phone }) });
    expect(revoked.status).toBe(200);

    const rejected = await (await post('/v1/otp', { phoneNumber: SANDBOX_MAGIC_NUMBERS.rejected })).json<{ requestId: string }>();
    await waitForStatus(rejected.requestId, ['failed']);
    spies.forEach((spy) => spy.mockRestore());

    // The consumer's per-attempt lines were captured, so the check below looked at real output.
    expect(lines.filter((line) => line.includes('"event":"send.attempt"')).length).toBeGreaterThanOrEqual(2);
    expect(lines.filter((line) => line.includes('"event":"sessions.revoked_for_phone"'))).toHaveLength(1);
    for (const line of lines) {
      expect(line).not.toContain(phone.slice(1));
      expect(line).not.toContain(SANDBOX_MAGIC_NUMBERS.rejected.slice(1));
      expect(line).not.toContain(code);
      expect(line).not.toContain(cookie.split('=')[1]!);
      expect(line).not.toContain(TEST_APP.secretKey);
    }
  });
});

describe('security headers', () => {
  it.each([
    ['GET', '/healthz'],
    ['GET', '/docs'],
    ['GET', '/admin'],
    ['GET', '/static/dashboard.js'],
    ['GET', '/openapi.json'],
    ['GET', '/v1/otp/otp_AAAAAAAAAAAAAAAAAAAAAA'],
    ['POST', '/v1/otp'],
    ['GET', '/v1/session'],
    ['GET', '/v1/admin/prefix-blocks'],
    ['GET', '/nowhere'],
  ])('%s %s', async (method, path) => {
    // The app routes are called with the test app's key, so they answer from their handlers.
    const key = path.startsWith('/v1/otp') ? withKey() : {};
    const response = await SELF.fetch(`${BASE}${path}`, {
      method,
      headers: method === 'POST' ? { ...key, 'Content-Type': 'application/json' } : key,
      body: method === 'POST' ? '{}' : undefined,
    });
    expect(response.headers.get('X-Content-Type-Options')).toBe('nosniff');
    expect(response.headers.get('Strict-Transport-Security')).toMatch(/max-age=\d+/);
    expect(response.headers.get('X-Frame-Options')).toBe('SAMEORIGIN');
    expect(response.headers.get('Referrer-Policy')).toBe('no-referrer');
    expect(response.headers.get('X-Request-Id')).toMatch(/^req_/);
  });
});
