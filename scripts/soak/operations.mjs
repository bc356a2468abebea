/**
 * The six kinds of call the soak's clients make (send, replay, poll, verify, admin, bad), each
 * timed and checked against the answer it must get, with the numbers and addresses they use.
 */
import { randomUUID } from 'node:crypto';
import { http } from '../lib/http.mjs';
import { DEV_APP_AUTH } from '../lib/local-dev-secrets.mjs';
import { addPending, ledger, noteStatus, timed } from './ledger.mjs';
import { ADMIN_TOKEN, REQUEST_TIMEOUT_MS } from './settings.mjs';

let ipCounter = 0;
let badCounter = 0;

const pick = (list) => list[Math.floor(Math.random() * list.length)];
const digits = (count) => Array.from({ length: count }, () => Math.floor(Math.random() * 10)).join('');
const RANGES = [
  ['+1555', 7],
  ['+4477', 8],
  ['+9198', 8],
];
const issued = new Set();
function newPhone() {
  for (let i = 0; i < 100; i += 1) {
    const [head, rest] = pick(RANGES);
    const phone = `${head}${digits(rest)}`;
    if (!issued.has(phone)) {
      issued.add(phone);
      return phone;
    }
  }
  throw new Error('could not find an unused number');
}
function newIp() {
  ipCounter += 1;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

const errorShaped = (json) => typeof json?.error?.code === 'string' && typeof json.error.message === 'string' && typeof json.error.requestId === 'string';

const BAD_INPUTS = [
  { name: 'invalid phone', method: 'POST', path: '/v1/otp', body: { phoneNumber: '98765' }, status: 400, code: 'invalid_phone_number' },
  { name: 'unknown field', method: 'POST', path: '/v1/otp', body: { phoneNumber: '+15550100000', extra: 1 }, status: 400, code: 'invalid_request' },
  {
    name: 'not JSON',
    method: 'POST',
    path: '/v1/otp',
    rawBody: '{"phoneNumber":',
    headers: { 'Content-Type': 'application/json' },
    status: 400,
    code: 'invalid_json',
  },
  {
    name: 'text/plain',
    method: 'POST',
    path: '/v1/otp',
    rawBody: 'phoneNumber=1',
    headers: { 'Content-Type': 'text/plain' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'body over 4 KiB',
    method: 'POST',
    path: '/v1/otp',
    rawBody: JSON.stringify({ phoneNumber: 'x'.repeat(5000) }),
    headers: { 'Content-Type': 'application/json' },
    status: 413,
    code: 'payload_too_large',
  },
  { name: 'malformed request id', method: 'GET', path: '/v1/otp/not-a-request-id', status: 400, code: 'invalid_request' },
  { name: 'unknown request id', method: 'GET', path: '/v1/otp/otp_AAAAAAAAAAAAAAAAAAAAAA', status: 404, code: 'not_found' },
  {
    name: 'bad idempotency key',
    method: 'POST',
    path: '/v1/otp',
    body: { phoneNumber: '+15550100000' },
    headers: { 'Idempotency-Key': 'short' },
    status: 400,
    code: 'invalid_idempotency_key',
  },
  {
    name: 'wrong admin token',
    method: 'GET',
    path: '/v1/admin/prefix-blocks',
    headers: { Authorization: 'Bearer wrong-token' },
    status: 401,
    code: 'unauthorized',
  },
];

export async function opSend(base) {
  const phoneNumber = newPhone();
  const idempotencyKey = Math.random() < 0.5 ? `soak-${randomUUID()}` : undefined;
  const headers = { ...DEV_APP_AUTH, 'CF-Connecting-IP': newIp(), ...(idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {}) };
  const answer = await timed(
    'send',
    () => http('POST', `${base}/v1/otp`, { body: { phoneNumber }, headers, timeoutMs: REQUEST_TIMEOUT_MS }),
    (a) => (a.status === 202 && typeof a.json?.requestId === 'string' ? true : `status ${a.status}`),
  );
  if (answer?.status === 202 && answer.json?.requestId) {
    const id = answer.json.requestId;
    ledger.requests.set(id, {
      id,
      phoneNumber,
      createdAt: Date.now(),
      expiresAt: Date.parse(answer.json.expiresAt),
      status: 'queued',
      finalAt: null,
      wrong: 0,
    });
    ledger.allIds.push(id);
    addPending(id);
    if (idempotencyKey) ledger.keyed.push({ key: idempotencyKey, phoneNumber, requestId: id });
  }
}

async function opReplay(base) {
  if (ledger.keyed.length === 0) return opSend(base);
  const original = pick(ledger.keyed);
  await timed(
    'replay',
    () =>
      http('POST', `${base}/v1/otp`, {
        body: { phoneNumber: original.phoneNumber },
        headers: { ...DEV_APP_AUTH, 'Idempotency-Key': original.key, 'CF-Connecting-IP': newIp() },
        timeoutMs: REQUEST_TIMEOUT_MS,
      }),
    (a) =>
      a.status === 202 && a.json?.requestId === original.requestId && a.headers.get('idempotent-replayed') === 'true'
        ? true
        : `status ${a.status}, requestId ${a.json?.requestId === original.requestId ? 'same' : 'DIFFERENT'}`,
  );
}

async function opPoll(base) {
  const { pending, allIds } = ledger;
  const id = pending.length > 0 ? pick(pending) : allIds.length > 0 ? pick(allIds) : null;
  if (!id) return opSend(base);
  const answer = await timed(
    'poll',
    () => http('GET', `${base}/v1/otp/${id}`, { headers: DEV_APP_AUTH, timeoutMs: REQUEST_TIMEOUT_MS }),
    (a) => (a.status === 200 && a.json?.requestId === id ? true : `status ${a.status}`),
  );
  if (answer?.status === 200) noteStatus(id, answer.json.status);
}

/** The drain's poll of a request not yet final: any 200 is the expected answer. */
export async function drainPoll(base, id) {
  const answer = await timed(
    'poll',
    () => http('GET', `${base}/v1/otp/${id}`, { headers: DEV_APP_AUTH, timeoutMs: REQUEST_TIMEOUT_MS }),
    (a) => a.status === 200,
  );
  if (answer?.status === 200) noteStatus(id, answer.json.status);
}

async function opVerify(base) {
  const { requests, verifiable, codes } = ledger;
  // Take a sent request whose code the stand-in has seen; it is ours alone until we put it back.
  let id = null;
  for (let i = 0; i < 5 && verifiable.length > 0; i += 1) {
    const index = Math.floor(Math.random() * verifiable.length);
    const candidate = verifiable[index];
    // A code about to expire is left alone (a long soak builds a backlog of sent requests): its
    // answer would depend on a race with the clock, and expiry has tests of its own.
    const live = requests.get(candidate).expiresAt - Date.now() > 5000;
    if (!live || codes.has(`otpd-${candidate}`)) {
      verifiable[index] = verifiable[verifiable.length - 1];
      verifiable.pop();
      if (!live) continue;
      id = candidate;
      break;
    }
  }
  if (!id) return opPoll(base);
  const request = requests.get(id);
  const code = codes.get(`otpd-${id}`);
  // At most two wrong guesses per request: the limit (5) is not what is measured here.
  const wrong = request.wrong < 2 && Math.random() < 0.15;
  const guess = wrong ? `${code.slice(0, -1)}${(Number(code.at(-1)) + 1) % 10}` : code;
  const answer = await timed(
    wrong ? 'verify-wrong' : 'verify',
    () => http('POST', `${base}/v1/otp/${id}/verify`, { body: { code: guess }, headers: DEV_APP_AUTH, timeoutMs: REQUEST_TIMEOUT_MS }),
    (a) =>
      wrong
        ? a.status === 400 && a.json?.error?.code === 'invalid_code' && typeof a.json.error.attemptsRemaining === 'number'
          ? true
          : `status ${a.status}`
        : a.status === 200 && a.json?.verified === true
          ? true
          : `status ${a.status}`,
  );
  if (wrong) {
    request.wrong += 1;
    verifiable.push(id);
  } else if (answer?.status === 200) {
    noteStatus(id, 'verified');
  } else {
    verifiable.push(id);
  }
}

async function opAdmin(base) {
  await timed(
    'admin',
    () => http('GET', `${base}/v1/admin/prefix-blocks`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` }, timeoutMs: REQUEST_TIMEOUT_MS }),
    (a) => (a.status === 200 && Array.isArray(a.json?.blocks) ? true : `status ${a.status}`),
  );
}

async function opBad(base) {
  const input = BAD_INPUTS[badCounter++ % BAD_INPUTS.length];
  // An app route's bad input comes with a valid key, so that it is refused for its own fault.
  const headers = input.path.startsWith('/v1/otp') ? { ...DEV_APP_AUTH, ...input.headers } : input.headers;
  await timed(
    'bad',
    () => http(input.method, `${base}${input.path}`, { body: input.body, rawBody: input.rawBody, headers, timeoutMs: REQUEST_TIMEOUT_MS }),
    (a) =>
      a.status === input.status && a.json?.error?.code === input.code && errorShaped(a.json)
        ? true
        : `${input.name}: ${a.status} ${a.json?.error?.code ?? a.text.slice(0, 80)}`,
  );
}

export const OPERATIONS = { send: opSend, replay: opReplay, poll: opPoll, verify: opVerify, admin: opAdmin, bad: opBad };
