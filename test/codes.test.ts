import { describe, expect, it } from 'vitest';
import { codeMatches, deriveCode } from '../src/codes';

const EXPECTED_6 = '722963';
const EXPECTED_8 = '17722963';

describe('deriveCode', () => {
  it('matches an independently computed HOTP truncation of HMAC-SHA256', async () => {
    // Computed outside the Worker with Python's hmac module and RFC 4226 dynamic truncation.
    expect(await deriveCode('test-otp-secret', 'otp_AAAAAAAAAAAAAAAAAAAAAA', 6)).toBe(EXPECTED_6);
    expect(await deriveCode('test-otp-secret', 'otp_AAAAAAAAAAAAAAAAAAAAAA', 8)).toBe(EXPECTED_8);
  });

  it('is stable per request id and differs across ids and secrets', async () => {
    const a = await deriveCode('s1', 'otp_a', 6);
    expect(await deriveCode('s1', 'otp_a', 6)).toBe(a);
    const others = await Promise.all(Array.from({ length: 20 }, (_, i) => deriveCode('s1', `otp_${i}`, 6)));
    expect(new Set(others).size).toBeGreaterThan(15);
    expect(await deriveCode('s2', 'otp_a', 6)).not.toBe(a);
  });

  it('always has the configured number of digits, zero-padded', async () => {
    for (const length of [4, 6, 8]) {
      const codes = await Promise.all(Array.from({ length: 50 }, (_, i) => deriveCode('k', `r${i}`, length)));
      for (const code of codes) expect(code).toMatch(new RegExp(`^\\d{${length}}$`));
    }
  });

  it('refuses lengths outside 4-8', async () => {
    await expect(deriveCode('k', 'r', 3)).rejects.toThrow(RangeError);
    await expect(deriveCode('k', 'r', 9)).rejects.toThrow(RangeError);
  });

  it('codeMatches accepts only the derived code', async () => {
    const code = await deriveCode('k', 'otp_x', 6);
    expect(await codeMatches('k', 'otp_x', 6, code)).toBe(true);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    expect(await codeMatches('k', 'otp_x', 6, wrong)).toBe(false);
    expect(await codeMatches('k', 'otp_x', 6, `${code}0`)).toBe(false);
  });
});
