/**
 * The synchronous design most OTP tutorials show, as a benchmark baseline: count the phone's
 * sends in a Durable Object, then call the SMS provider inside the user's request and answer only
 * when it has. The app's latency is the provider's latency, and a provider failure is the app's
 * failure. Written for bench/api-path.mjs; never deployed.
 */
import { DurableObject } from 'cloudflare:workers';

const E164 = /^\+[1-9]\d{6,14}$/;

/** A fixed-window counter per phone: at most LIMIT sends per WINDOW_MS. */
export class PhoneCounter extends DurableObject {
  async hit(limit, windowMs) {
    const now = Date.now();
    const state = (await this.ctx.storage.get('window')) ?? { start: now, count: 0 };
    if (now - state.start >= windowMs) {
      state.start = now;
      state.count = 0;
    }
    if (state.count >= limit) return { allowed: false, retryAfterSeconds: Math.ceil((state.start + windowMs - now) / 1000) };
    state.count += 1;
    await this.ctx.storage.put('window', state);
    return { allowed: true };
  }
}

function json(body, status, headers = {}) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/healthz') return json({ ok: true }, 200);
    if (url.pathname !== '/v1/otp' || request.method !== 'POST') return json({ error: 'not_found' }, 404);

    let phoneNumber;
    try {
      ({ phoneNumber } = await request.json());
    } catch {
      return json({ error: 'invalid_json' }, 400);
    }
    if (typeof phoneNumber !== 'string' || !E164.test(phoneNumber)) return json({ error: 'invalid_phone_number' }, 400);

    const counter = env.PHONE_COUNTER.get(env.PHONE_COUNTER.idFromName(phoneNumber));
    const verdict = await counter.hit(Number(env.PHONE_LIMIT), Number(env.PHONE_WINDOW_SECONDS) * 1000);
    if (!verdict.allowed) return json({ error: 'rate_limited' }, 429, { 'retry-after': String(verdict.retryAfterSeconds) });

    const digits = crypto.getRandomValues(new Uint32Array(1))[0] % 1_000_000;
    const code = String(digits).padStart(6, '0');
    // The provider call happens inside the user's request: this await is the user's wait.
    const answer = await fetch(`${env.SM_BASE_URL}/otp/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': env.SM_API_KEY },
      body: JSON.stringify({ phoneNumber, variables: { otp: code }, idempotencyKey: crypto.randomUUID() }),
    });
    await answer.arrayBuffer();
    if (!answer.ok) return json({ error: 'provider_failed' }, 502);
    return json({ sent: true }, 200);
  },
};
