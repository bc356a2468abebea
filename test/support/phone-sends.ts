import { env, runInDurableObject } from 'cloudflare:test';
import { numberKeyOf, prefixGuardFor } from '../../src/limiter/limiter-client';
import type { PrefixGuard } from '../../src/limiter/prefix-guard';
import { phonePrefix } from '../../src/phone';

/**
 * A phone's sends as its limits see them: the per-phone log its prefix's PrefixGuard keeps.
 */
export async function storedPhoneSends(phoneNumber: string): Promise<number> {
  const numberKey = await numberKeyOf(phoneNumber);
  return runInDurableObject(
    prefixGuardFor(env, phonePrefix(phoneNumber)),
    (_i: PrefixGuard, state) => state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM phone_sends WHERE number_key = ?', numberKey).one().n,
  );
}

/** Makes the phone's sends look `ms` older, as if that much time had passed. */
export async function agePhoneSends(phoneNumber: string, ms: number): Promise<void> {
  const numberKey = await numberKeyOf(phoneNumber);
  await runInDurableObject(prefixGuardFor(env, phonePrefix(phoneNumber)), (_i: PrefixGuard, state) => {
    state.storage.sql.exec('UPDATE phone_sends SET at = at - ? WHERE number_key = ?', ms, numberKey);
  });
}
