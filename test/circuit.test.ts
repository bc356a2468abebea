import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { recentProviderEvents } from '../src/db/provider-events';
import { Circuit, PROBE_LEASE_MS } from '../src/routing/circuit';
import type { ProviderHealth } from '../src/routing/provider-health';

const SETTINGS = { windowMs: 30_000, minFailures: 5, failureRate: 0.5, coolDownMs: 15_000 };
const T = 1_800_000_000_000;
const fail = (at: number) => ({ at, ok: false, latencyMs: 20 });
const ok = (at: number) => ({ at, ok: true, latencyMs: 10 });

describe('circuit', () => {
  it('opens on the minimum number of failures once they are the failure rate of the window', () => {
    const circuit = new Circuit(SETTINGS);
    for (let i = 0; i < 6; i++) expect(circuit.record(ok(T + i), T + i)).toBeNull();
    for (let i = 0; i < 5; i++) expect(circuit.record(fail(T + 10 + i), T + 10 + i)).toBeNull(); // 5 of 11: under half
    expect(circuit.record(fail(T + 20), T + 20)).toMatchObject({ from: 'closed', to: 'open', at: T + 20 });
    expect(circuit.state).toBe('open');
  });

  it('failures older than the window are forgotten', () => {
    const circuit = new Circuit(SETTINGS);
    for (let i = 0; i < 4; i++) circuit.record(fail(T + i), T + i);
    expect(circuit.record(fail(T + 31_000), T + 31_000)).toBeNull();
    expect(circuit.recent(T + 31_000)).toMatchObject({ calls: 1, failures: 1 });
  });

  it('turns half-open after the cool-down, hands out one probe, closes on its success', () => {
    const circuit = new Circuit(SETTINGS);
    for (let i = 0; i < 5; i++) circuit.record(fail(T), T);
    expect(circuit.state).toBe('open');
    expect(circuit.advance(T + 14_999)).toBeNull();
    expect(circuit.claimProbe(T + 14_999)).toBe(false);
    expect(circuit.advance(T + 15_000)).toMatchObject({ from: 'open', to: 'half_open' });
    expect(circuit.claimProbe(T + 15_000)).toBe(true);
    expect(circuit.claimProbe(T + 15_001)).toBe(false);
    // A probe never reported is handed out again once its lease lapsed.
    expect(circuit.claimProbe(T + 15_000 + PROBE_LEASE_MS)).toBe(true);
    expect(circuit.record(ok(T + 16_000), T + 16_000)).toMatchObject({ from: 'half_open', to: 'closed' });
    expect(circuit.recent(T + 16_000).calls).toBe(0);
  });

  it('a failed probe opens it again for another cool-down', () => {
    const circuit = new Circuit(SETTINGS);
    for (let i = 0; i < 5; i++) circuit.record(fail(T), T);
    circuit.advance(T + 15_000);
    expect(circuit.record(fail(T + 15_100), T + 15_100)).toMatchObject({ from: 'half_open', to: 'open', at: T + 15_100 });
    expect(circuit.advance(T + 30_000)).toBeNull();
    expect(circuit.advance(T + 30_100)).toMatchObject({ to: 'half_open' });
  });
});

describe('ProviderHealth (the object)', () => {
  it('records every circuit change in D1 with its time, grants one probe, and keeps its state in storage', async () => {
    const provider = `p-${crypto.randomUUID().slice(0, 8)}`;
    const stub = env.PROVIDER_HEALTH.get(env.PROVIDER_HEALTH.idFromName(provider));
    let now = T;
    await runInDurableObject(stub, (instance: ProviderHealth) => {
      (instance as unknown as { clock: () => number }).clock = () => now;
    });
    const query = { provider, settings: SETTINGS };
    const opened = await stub.report({ ...query, outcomes: Array.from({ length: 5 }, () => fail(T)) });
    expect(opened).toMatchObject({ state: 'open', since: T, calls: 5, failures: 5, medianLatencyMs: 20 });
    now = T + 15_000;
    expect(await stub.view({ ...query, wantProbe: true })).toMatchObject({ state: 'half_open', probe: true });
    expect(await stub.view({ ...query, wantProbe: true })).toMatchObject({ state: 'half_open', probe: false });
    now = T + 16_000;
    expect(await stub.report({ ...query, outcomes: [ok(now)] })).toMatchObject({ state: 'closed' });
    const events = await recentProviderEvents(env.DB, 10, provider);
    expect(events.map((event) => [event.fromState, event.toState, event.at])).toEqual([
      ['half_open', 'closed', T + 16_000],
      ['open', 'half_open', T + 15_000],
      ['closed', 'open', T],
    ]);
    expect(await runInDurableObject(stub, (_, state) => state.storage.get('circuit'))).toMatchObject({ state: 'closed', since: T + 16_000 });
  });
});
