/**
 * POST /otp/send: records the call, draws its faults, waits its latency, then answers as
 * faults.mjs decides.
 */
import { answerSend } from './faults.mjs';
import { readBody, sendJson, sendText } from './http-io.mjs';
import { peek } from './send-body.mjs';

export function createSendHandler({ settings, callLog, sends, scripts, limiter, later }) {
  const { random, log, latencyMs, latencyJitterMs } = settings;

  return async function handleSend(req, res) {
    const arrivedAt = Date.now();
    callLog.noteArrival(arrivedAt);
    const { text, tooLarge } = await readBody(req);
    const apiKey = typeof req.headers['x-api-key'] === 'string' ? req.headers['x-api-key'].trim() : '';
    const account = apiKey || '(none)';
    const record = {
      seq: callLog.nextSeq(),
      at: arrivedAt,
      time: new Date(arrivedAt).toISOString(),
      ...peek(text, req.headers),
      status: null,
      outcome: 'pending',
      messageId: null,
      durationMs: null,
      newSms: false,
      clientGone: false,
      step: null,
    };
    callLog.addSend(record);
    res.on('close', () => {
      if (!res.writableFinished) record.clientGone = true;
    });
    if (record.idempotencyKey !== null) {
      const entry = callLog.keyStats(account, record.idempotencyKey);
      if (record.otp !== null) entry.otps.add(record.otp);
      if (record.phoneNumber !== null) entry.phones.add(record.phoneNumber);
    }

    // Both draws happen for every call, so a seeded sequence does not depend on earlier outcomes.
    const hangDraw = random();
    const failDraw = random();
    const scripted = scripts.nextStep(record.phoneNumber);
    record.step = scripted?.step ?? null;
    // A scripted number's behaviour is all in its script: it does not draw on the rate limit.
    const allowed = apiKey && !scripted ? limiter.take(account, arrivedAt) : true;
    const delay = latencyMs + (latencyJitterMs ? random() * latencyJitterMs : 0);

    const answer = (status, body, headers, rawText) => {
      record.status = status;
      record.durationMs = Date.now() - arrivedAt;
      if (rawText === undefined) sendJson(res, status, body, headers);
      else sendText(res, status, rawText, rawText.startsWith('<') ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8', headers);
      log?.(
        `${record.time} ${status} ${record.outcome} key=${record.idempotencyKey ?? '-'} phone=${record.phoneNumber ?? '-'}${record.step ? ` step=${record.step}` : ''}`,
      );
    };

    const withhold = () => {
      log?.(`${record.time} (no answer) ${record.outcome} key=${record.idempotencyKey ?? '-'}`);
    };

    const processSend = () => sends.process(record, account, text, tooLarge, req.headers);

    later(delay, () => {
      // A client that gave up meanwhile does not stop the work (as with a real provider): the
      // call is processed and recorded; only the answer is lost.
      if (res.destroyed) record.clientGone = true;
      answerSend({ record, apiKey, scripted, allowed, hangDraw, failDraw, settings, processSend, answer, withhold });
    });
  };
}
