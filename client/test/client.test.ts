import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createOtpClient, OtpApiError } from '../src/index.ts';
import { baseUrl, DEV_APP, fetchFrom, sandboxCode, uniquePhone } from './support.ts';

const backend = () => createOtpClient({ baseUrl: baseUrl(), key: DEV_APP.secretKey });

/** Runs `call` and answers the OtpApiError it throws. */
async function apiErrorOf(call: () => Promise<unknown>): Promise<OtpApiError> {
  try {
    await call();
  } catch (error) {
    assert.ok(error instanceof OtpApiError, `threw ${error}`);
    return error;
  }
  assert.fail('did not throw');
}

describe('the client against the service', () => {
  it('sends, reads the status, and verifies the code the sandbox sent: a token for the app', async () => {
    const client = backend();
    const phoneNumber = uniquePhone();
    const accepted = await client.send({ phoneNumber });
    assert.match(accepted.requestId, /^otp_/);
    assert.equal(accepted.status, 'queued');
    assert.equal(accepted.replayed, false);
    assert.equal(accepted.statusUrl, `${baseUrl()}/v1/otp/${accepted.requestId}`);

    const status = await client.status(accepted.requestId);
    assert.equal(status.requestId, accepted.requestId);
    assert.match(status.phoneNumber, /^\+91\*+\d{4}$/);

    const verified = await client.verify(accepted.requestId, await sandboxCode(accepted.requestId));
    assert.equal(verified.verified, true);
    assert.equal(verified.phoneNumber, phoneNumber);
    assert.equal(verified.requestId, accepted.requestId);
    const token = await client.verifyToken(verified.token, { audience: DEV_APP.id });
    assert.equal(token.phoneNumber, phoneNumber);
    assert.equal(token.requestId, accepted.requestId);
    assert.equal((await client.status(accepted.requestId)).status, 'verified');
  });

  it('sends by the channel asked for: WhatsApp goes out through the provider that has it, and the status says so', async () => {
    const client = backend();
    const accepted = await client.send({ phoneNumber: uniquePhone(), channel: 'whatsapp' });
    await sandboxCode(accepted.requestId);
    const status = await client.waitForStatus(accepted.requestId, { until: ['sent', 'delivered'] });
    assert.equal(status.channel, 'whatsapp');
    assert.equal(status.deliveredVia?.channel, 'whatsapp');
    assert.equal(status.deliveredVia?.provider, 'sandbox-backup');
  });

  it('replays a send with the same Idempotency-Key instead of sending again', async () => {
    const client = backend();
    const phoneNumber = uniquePhone();
    const idempotencyKey = crypto.randomUUID();
    const first = await client.send({ phoneNumber, idempotencyKey });
    const again = await client.send({ phoneNumber, idempotencyKey });
    assert.equal(again.requestId, first.requestId);
    assert.equal(again.replayed, true);
  });

  it('throws the API’s refusals as OtpApiError with their code, status, trace id and details', async () => {
    const client = backend();
    const badNumber = await apiErrorOf(() => client.send({ phoneNumber: '98765' }));
    assert.equal(badNumber.code, 'invalid_phone_number');
    assert.equal(badNumber.status, 400);
    assert.match(badNumber.traceId ?? '', /^req_/);

    const phoneNumber = uniquePhone();
    const { requestId } = await client.send({ phoneNumber });
    const limited = await apiErrorOf(() => client.send({ phoneNumber }));
    assert.equal(limited.code, 'phone_rate_limited');
    assert.equal(limited.status, 429);
    assert.ok(limited.retryAfterSeconds! > 0, 'Retry-After is read');

    const wrong = await apiErrorOf(() => client.verify(requestId, '000000'));
    assert.equal(wrong.code, 'invalid_code');
    assert.equal(wrong.details.attemptsRemaining, 4);

    const missing = await apiErrorOf(() => client.status('otp_AAAAAAAAAAAAAAAAAAAAAA'));
    assert.equal(missing.code, 'not_found');
    const unknownKey = await apiErrorOf(() => createOtpClient({ baseUrl: baseUrl(), key: 'sk_unknown' }).status(requestId));
    assert.equal(unknownKey.code, 'invalid_api_key');
  });

  it('sends and verifies with the publishable key from an allowed origin only, and never reads a status with it', async () => {
    const browser = createOtpClient({ baseUrl: baseUrl(), key: DEV_APP.publishableKey, fetch: fetchFrom(DEV_APP.origin) });
    const { requestId } = await browser.send({ phoneNumber: uniquePhone() });
    assert.equal((await apiErrorOf(() => browser.status(requestId))).code, 'key_not_allowed');
    const verified = await browser.verify(requestId, await sandboxCode(requestId));
    assert.equal(verified.verified, true);
    // The browser already knows its number: only the backend's answer carries it.
    assert.equal(verified.phoneNumber, undefined);

    const elsewhere = createOtpClient({ baseUrl: baseUrl(), key: DEV_APP.publishableKey, fetch: fetchFrom('https://elsewhere.example') });
    assert.equal((await apiErrorOf(() => elsewhere.send({ phoneNumber: uniquePhone() }))).code, 'forbidden_origin');
  });
});
