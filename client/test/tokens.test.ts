import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createOtpClient, OtpTokenError, tokenVerifier } from '../src/index.ts';
import { baseUrl, DEV_APP, sandboxCode, uniquePhone } from './support.ts';

/** A fresh verification token of the development app, from the service. */
async function freshToken(): Promise<{ token: string; phoneNumber: string }> {
  const client = createOtpClient({ baseUrl: baseUrl(), key: DEV_APP.secretKey });
  const phoneNumber = uniquePhone();
  const { requestId } = await client.send({ phoneNumber });
  return { token: (await client.verify(requestId, await sandboxCode(requestId))).token, phoneNumber };
}

async function refusal(check: Promise<unknown>): Promise<string> {
  try {
    await check;
  } catch (error) {
    assert.ok(error instanceof OtpTokenError, `threw ${error}`);
    return error.reason;
  }
  assert.fail('the token was accepted');
}

describe('verification tokens, checked against the service’s JWKS', () => {
  it('accepts the app’s token and says what it verified; refuses it for another app, another issuer, or altered', async () => {
    const { token, phoneNumber } = await freshToken();
    const verifyToken = tokenVerifier(baseUrl());
    const checked = await verifyToken(token, { audience: DEV_APP.id });
    assert.equal(checked.phoneNumber, phoneNumber);
    assert.equal(checked.appId, DEV_APP.id);
    assert.match(checked.requestId, /^otp_/);
    assert.ok(checked.expiresAt > checked.verifiedAt);

    assert.equal(await refusal(verifyToken(token, { audience: 'app_someotherappxxxxxxxxxx' })), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    assert.equal(await refusal(verifyToken(token, { audience: DEV_APP.id, issuer: 'https://otp.example.com' })), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, phone_number: '+15550000000', sub: '+15550000000' })).toString('base64url')}.${signature}`;
    assert.equal(await refusal(verifyToken(forged, { audience: DEV_APP.id })), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    assert.equal(await refusal(verifyToken('not.a.token', { audience: DEV_APP.id })), 'ERR_JWS_INVALID');
  });
});
