/**
 * The Twilio stand-in's Messages resource: POST …/Messages.json (form-encoded, Basic auth) and
 * GET …/Messages/{Sid}.json, with faults, latency, a rate limit, scripted numbers and a call log.
 * Twilio takes no idempotency key, so every accepted call is a new message: the log counts
 * messages per phone and channel, which is what an end-to-end check of duplicates reads.
 */
import { randomBytes } from 'node:crypto';
import { sendJson } from './http-io.mjs';

const E164 = /^\+[1-9]\d{6,14}$/;
const STEP = /^(?:(ok|undelivered|hang|hang-after-send)|([45]\d\d)(?:\/(\d{5}))?(?::(\d{1,6}))?)$/;

/** Checks one script step: "ok", "undelivered" (accepted; its status reads undelivered), "hang", "hang-after-send", "<status>[/<twilio code>][:<Retry-After>]". */
export function parseTwilioStep(step) {
  const match = typeof step === 'string' ? STEP.exec(step) : null;
  if (!match) throw new RangeError(`unknown script step: ${JSON.stringify(step)}`);
  if (match[1]) return { step, kind: match[1] };
  return { step, kind: 'status', status: Number(match[2]), code: match[3] ? Number(match[3]) : null, retryAfter: match[4] ? Number(match[4]) : null };
}

/** { phoneNumber: [step, ...] } → Map; the last step repeats. */
export function parseTwilioScript(script) {
  const parsed = new Map();
  for (const [phone, steps] of Object.entries(script ?? {})) {
    if (!Array.isArray(steps) || steps.length === 0) throw new TypeError(`the script of ${phone} must be a non-empty array of steps`);
    parsed.set(phone, steps.map(parseTwilioStep));
  }
  return parsed;
}

export const errorDocument = (status, code, message) => ({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });

/** Records why a call was refused (or withheld) and passes its answer on. */
function refuse(record, outcome, answer) {
  record.outcome = outcome;
  return answer;
}

const rfc2822 = (ms) => new Date(ms).toUTCString().replace('GMT', '+0000');

function resource(message) {
  return {
    sid: message.sid,
    account_sid: message.accountSid,
    to: message.to,
    from: message.from,
    body: message.body,
    status: message.status,
    error_code: message.status === 'undelivered' ? 30003 : null,
    error_message: message.status === 'undelivered' ? 'Unreachable destination handset' : null,
    date_created: rfc2822(message.createdAt),
    date_updated: rfc2822(message.createdAt + 1000),
    direction: 'outbound-api',
    api_version: '2010-04-01',
  };
}

export function createTwilioMessages(settings) {
  let calls = [];
  let statusCalls = [];
  let messages = new Map();
  let scripts = new Map(settings.baseScript);
  let progress = new Map();
  let seq = 0;

  const nextStep = (phone) => {
    const steps = phone ? scripts.get(phone) : undefined;
    if (!steps) return null;
    const used = progress.get(phone) ?? 0;
    progress.set(phone, used + 1);
    return steps[Math.min(used, steps.length - 1)];
  };

  /** Steps 4-6 of a send: validation, then a new message. Returns [status, body]. */
  function create(record, form, step) {
    const to = form.get('To') ?? '';
    const from = form.get('From') ?? '';
    const channel = to.startsWith('whatsapp:') ? 'whatsapp' : 'sms';
    const phone = to.replace(/^whatsapp:/, '');
    if (!E164.test(phone)) return refuse(record, 'invalid_number', [400, errorDocument(400, 21211, `The 'To' number ${to} is not a valid phone number.`)]);
    if (!from && !form.get('MessagingServiceSid'))
      return refuse(record, 'bad_request', [400, errorDocument(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required")]);
    if (channel === 'whatsapp' && !from.startsWith('whatsapp:')) return refuse(record, 'bad_request', [400, errorDocument(400, 63007, 'No WhatsApp sender')]);
    const body = form.get('Body') ?? '';
    if (!body) return refuse(record, 'bad_request', [400, errorDocument(400, 21602, 'Message body is required.')]);
    const sid = `SM${randomBytes(16).toString('hex')}`;
    const message = {
      sid,
      accountSid: settings.accountSid,
      to,
      from,
      body,
      createdAt: Date.now(),
      status: step?.kind === 'undelivered' ? 'undelivered' : 'delivered',
    };
    messages.set(sid, message);
    Object.assign(record, { outcome: 'sent', newSms: true, sid });
    return [201, { ...resource(message), status: 'queued', error_code: null, error_message: null }];
  }

  function answerFor(record, form, step, draws) {
    if (step?.kind === 'status') {
      record.outcome = step.status === 429 ? 'rate_limited' : step.status >= 500 ? 'failed' : `refused_${step.status}`;
      const headers = step.retryAfter === null ? {} : { 'Retry-After': String(step.retryAfter) };
      const code = step.code ?? (step.status === 429 ? 20429 : step.status >= 500 ? 20500 : 21211);
      return [step.status, errorDocument(step.status, code, `Scripted answer ${step.status}`), headers];
    }
    if (step?.kind === 'hang') return refuse(record, 'hang', null);
    if (step?.kind === 'hang-after-send') {
      create(record, form, step);
      record.outcome = `hang_after_${record.outcome}`;
      return null;
    }
    if (!step) {
      if (!draws.allowed) return refuse(record, 'rate_limited', [429, errorDocument(429, 20429, 'Too Many Requests'), { 'Retry-After': '1' }]);
      if (draws.hang < settings.hangRate) {
        if (settings.hangAfterSend) create(record, form, null);
        record.outcome = settings.hangAfterSend ? `hang_after_${record.outcome}` : 'hang';
        return null;
      }
      if (draws.fail < settings.failRate) {
        record.outcome = 'failed';
        return [settings.failStatus, errorDocument(settings.failStatus, 20500, 'Internal Server Error')];
      }
    }
    return create(record, form, step);
  }

  return {
    /** POST …/Messages.json once its body is read; `authorized` is whether Basic auth matched. */
    handleCreate(res, text, authorized, limiter, later) {
      const arrivedAt = Date.now();
      const form = new URLSearchParams(text);
      const to = form.get('To');
      const body = form.get('Body') ?? '';
      const record = {
        seq: ++seq,
        at: arrivedAt,
        to,
        phoneNumber: to?.replace(/^whatsapp:/, '') ?? null,
        channel: to?.startsWith('whatsapp:') ? 'whatsapp' : 'sms',
        from: form.get('From') ?? form.get('MessagingServiceSid'),
        /** The code the body carries: its first run of 4 to 8 digits. */
        code: /\b(\d{4,8})\b/.exec(body)?.[1] ?? null,
        body,
        status: null,
        outcome: 'pending',
        sid: null,
        newSms: false,
        step: null,
      };
      calls.push(record);
      const draws = { hang: settings.random(), fail: settings.random(), allowed: true };
      const step = nextStep(record.phoneNumber);
      record.step = step?.step ?? null;
      if (!step) draws.allowed = limiter.take(settings.accountSid, arrivedAt);
      const delay = settings.latencyMs + (settings.latencyJitterMs ? settings.random() * settings.latencyJitterMs : 0);
      later(delay, () => {
        if (!authorized) {
          record.outcome = 'unauthorized';
          record.status = 401;
          return sendJson(res, 401, errorDocument(401, 20003, 'Authenticate'));
        }
        const answer = answerFor(record, form, step, draws);
        settings.log?.(`${new Date(arrivedAt).toISOString()} ${answer?.[0] ?? '(no answer)'} ${record.outcome} to=${record.to ?? '-'}`);
        if (!answer) return; // withheld; close() destroys the socket
        const [status, json, headers = {}] = answer;
        record.status = status;
        sendJson(res, status, json, headers);
      });
    },

    /** GET …/Messages/{Sid}.json */
    handleFetch(res, sid, authorized) {
      const record = { seq: ++seq, at: Date.now(), sid, status: null };
      statusCalls.push(record);
      const answer = (status, json) => {
        record.status = status;
        sendJson(res, status, json);
      };
      if (!authorized) return answer(401, errorDocument(401, 20003, 'Authenticate'));
      const message = messages.get(sid);
      if (!message) return answer(404, errorDocument(404, 20404, `The requested resource /Messages/${sid}.json was not found`));
      return answer(200, resource(message));
    },

    calls: () => calls.map((call) => ({ ...call })),
    statusCalls: () => statusCalls.map((call) => ({ ...call })),
    since: (since) => ({ calls: calls.filter((call) => call.seq > since), statusCalls: statusCalls.filter((call) => call.seq > since) }),
    setScript(script) {
      for (const [phone, steps] of parseTwilioScript(script)) {
        scripts.set(phone, steps);
        progress.delete(phone);
      }
      return scripts.size;
    },
    stats() {
      const byStatus = {};
      const byOutcome = {};
      for (const call of calls) {
        const status = call.status === null ? (call.outcome === 'pending' ? 'pending' : 'no_answer') : String(call.status);
        byStatus[status] = (byStatus[status] ?? 0) + 1;
        byOutcome[call.outcome] = (byOutcome[call.outcome] ?? 0) + 1;
      }
      const perPhone = new Map();
      for (const message of messages.values()) perPhone.set(message.to, (perPhone.get(message.to) ?? 0) + 1);
      return {
        calls: calls.length,
        byStatus,
        byOutcome,
        messages: messages.size,
        /** Addresses (number and channel) that received more than one message. */
        repeatedRecipients: [...perPhone.values()].filter((count) => count > 1).length,
        rateLimited: byStatus['429'] ?? 0,
        statusChecks: statusCalls.length,
        config: settings.config,
      };
    },
    reset() {
      calls = [];
      statusCalls = [];
      messages = new Map();
      scripts = new Map(settings.baseScript);
      progress = new Map();
    },
  };
}
