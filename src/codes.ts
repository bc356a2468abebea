import { hmacSha256, timingSafeEqualStrings } from './crypto';

/**
 * The one-time code of a request, derived and never stored: HOTP dynamic truncation (RFC 4226,
 * section 5.3) applied to HMAC-SHA256(secret, requestId). The consumer derives it to send it and
 * verification derives it again, so neither D1, the queue nor a log ever holds a code.
 */
export async function deriveCode(secret: string, requestId: string, length: number): Promise<string> {
  if (!Number.isInteger(length) || length < 4 || length > 8) throw new RangeError('code length must be 4 to 8');
  const mac = await hmacSha256(secret, requestId);
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return String(binary % 10 ** length).padStart(length, '0');
}

/** Constant-time check of a submitted code against the derived one. */
export async function codeMatches(secret: string, requestId: string, length: number, submitted: string) {
  const expected = await deriveCode(secret, requestId, length);
  return timingSafeEqualStrings(expected, submitted);
}
