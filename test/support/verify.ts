import { deriveCode } from '../../src/codes';
import { withKey } from './apps';
import { TEST_OTP_SECRET } from './fixtures';
import { fetchWithEnv } from './worker';

/** `POST /v1/otp/:id/verify` with the request's right code, as the test app, through `testEnv`. */
export async function verifyWithRightCode(requestId: string, testEnv: Env): Promise<Response> {
  return fetchWithEnv(
    new Request(`https://otp.test/v1/otp/${requestId}/verify`, {
      method: 'POST',
      headers: withKey({ 'Content-Type': 'application/json' }),
      body: JSON.stringify({ code: await deriveCode(TEST_OTP_SECRET, requestId, 6) }),
    }),
    testEnv,
  );
}
