import { env, runInDurableObject } from 'cloudflare:test';
import { numberKeyOf, prefixGuardFor } from '../../src/limiter/limiter-client';
import type { PrefixGuard } from '../../src/limiter/prefix-guard';
import { SendIndex } from '../../src/limiter/send-index';
import { readSends } from '../../src/limiter/send-log';
import { phonePrefix } from '../../src/phone';

/** A pumping policy no test's handful of sends trips: a PrefixGuard called directly decides by its windows alone. */
export const QUIET_PUMPING = {
  windowSeconds: 3600,
  graceSeconds: 120,
  minSends: 1000,
  minConversion: 0.3,
  blockSeconds: 43200,
  sequentialNumbers: 1000,
  sequentialSeconds: 600,
};

/**
 * A phone's sends as its limits see them: the rows of its prefix's PrefixGuard send log that
 * count for the phone.
 */
export async function storedPhoneSends(phoneNumber: string): Promise<number> {
  const numberKey = await numberKeyOf(phoneNumber);
  return runInDurableObject(
    prefixGuardFor(env, phonePrefix(phoneNumber)),
    (_i: PrefixGuard, state) =>
      state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM sends WHERE number_key = ? AND phone_scope = 1', numberKey).one().n,
  );
}

/**
 * After a test changed a PrefixGuard's send log behind its back: the object's index is built
 * again from the log, as a restarted object's is.
 */
export function reloadSendIndex(instance: PrefixGuard, state: DurableObjectState): void {
  (instance as unknown as { index: SendIndex }).index = new SendIndex(readSends(state.storage.sql));
}

/** Makes the phone's sends look `ms` older, as if that much time had passed. */
export async function agePhoneSends(phoneNumber: string, ms: number): Promise<void> {
  const numberKey = await numberKeyOf(phoneNumber);
  await runInDurableObject(prefixGuardFor(env, phonePrefix(phoneNumber)), (instance: PrefixGuard, state) => {
    state.storage.sql.exec('UPDATE sends SET at = at - ? WHERE number_key = ?', ms, numberKey);
    reloadSendIndex(instance, state);
  });
}
