import { env } from 'cloudflare:test';
import type { Reservation, ReserveInput } from '../../src/pacing/pacing-schedule';
import type { ProviderPacer } from '../../src/pacing/provider-pacer';

/**
 * `base` with a provider pacer of its own: the send path asks for the object named `provider`,
 * here one no other test shares, so a test can book it ahead (or find it idle) without other
 * tests' calls in its schedule. Returns the env and that pacer.
 */
export function withOwnPacer(base: Env = env): { testEnv: Env; pacer: DurableObjectStub<ProviderPacer> } {
  const namespace = base.PROVIDER_PACER;
  const id = namespace.idFromName(`provider-${crypto.randomUUID()}`);
  const own = new Proxy(namespace, {
    get(target, property) {
      if (property === 'idFromName') return () => id;
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { testEnv: { ...base, PROVIDER_PACER: own } as Env, pacer: namespace.get(id) };
}

/** `base` whose provider pacer cannot be reached: every call to it fails. */
export function withUnreachablePacer(base: Env = env): Env {
  const unreachable = {
    idFromName: () => base.PROVIDER_PACER.idFromName('unreachable'),
    get: () => ({ reserve: () => Promise.reject(new Error('Network connection lost.')) }),
  };
  return { ...base, PROVIDER_PACER: unreachable } as unknown as Env;
}

/** The most times that fall within any one second (a window starting at one of them). */
export function mostInOneSecond(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! < sorted[i]! + 1000) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

/**
 * `base` whose provider pacer answers with `answer(input, callIndex)`: for the consumer's
 * handling of answers the real pacer gives only under timing no test should depend on (a send
 * time already past, a pacer full when a call comes back for a new time).
 */
export function withScriptedPacer(base: Env, answer: (input: ReserveInput, callIndex: number) => Reservation): { testEnv: Env; asked: ReserveInput[] } {
  const asked: ReserveInput[] = [];
  const scripted = {
    idFromName: () => base.PROVIDER_PACER.idFromName('scripted'),
    get: () => ({
      reserve: async (input: ReserveInput) => {
        asked.push(input);
        return answer(input, asked.length - 1);
      },
    }),
  };
  return { testEnv: { ...base, PROVIDER_PACER: scripted } as unknown as Env, asked };
}
