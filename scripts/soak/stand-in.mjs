/**
 * The soak's side of the StartMessaging stand-in: the codes it received (what a user would read
 * off the SMS, needed to verify) and, after the run, the SMS it sent per request.
 */
import { http } from '../lib/http.mjs';
import { ledger } from './ledger.mjs';

/** Reads new calls from the stand-in's /__calls every second into ledger.codes. */
export function startCodeReader(standInUrl) {
  let lastSeq = 0;
  let fetchingCodes = false;
  const fetchCodes = async () => {
    if (fetchingCodes) return;
    fetchingCodes = true;
    try {
      const answer = await http('GET', `${standInUrl}/__calls?since=${lastSeq}`, { timeoutMs: 5000 });
      for (const call of answer.json?.calls ?? []) {
        if (call.idempotencyKey && call.otp) ledger.codes.set(call.idempotencyKey, call.otp);
        lastSeq = Math.max(lastSeq, call.seq);
      }
    } catch {
      /* next time */
    } finally {
      fetchingCodes = false;
    }
  };
  return { fetchCodes, timer: setInterval(fetchCodes, 1000) };
}

/** The stand-in's counters and every call it recorded, with the SMS each provider key led to. */
export async function providerView(standInUrl) {
  const stats = (await http('GET', `${standInUrl}/__stats`)).json;
  const allCalls = (await http('GET', `${standInUrl}/__calls`, { timeoutMs: 30_000 })).json.calls;
  const smsByKey = new Map();
  for (const call of allCalls) if (call.newSms) smsByKey.set(call.idempotencyKey, (smsByKey.get(call.idempotencyKey) ?? 0) + 1);
  // When the SMS left (the stand-in's arrival time of the call that sent it), per key.
  const smsAt = new Map(allCalls.filter((call) => call.newSms).map((call) => [call.idempotencyKey, call.at]));
  return { stats, smsByKey, smsAt };
}
