import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { adminFetch, adminJson } from './support/admin';

/** Two sandbox providers, as `npm run dev` runs them. */
const twoProviders = { ...env, PROVIDER_ORDER: 'sandbox,sandbox-backup' } as Env;

interface Listing {
  providers: Array<{ name: string; position: number; channels: string[]; drained: { by: string; reason: string | null } | null; circuit: { state: string } }>;
  events: Array<{ provider: string; kind: string; detail: string | null }>;
}

describe('admin: providers', () => {
  it("lists the deployment's providers in order with their circuit, channels and drain", async () => {
    const { status, body } = await adminJson<Listing>('/v1/admin/providers', {}, twoProviders);
    expect(status).toBe(200);
    expect(body.providers).toEqual([
      expect.objectContaining({ name: 'sandbox', position: 1, channels: ['sms'], drained: null, circuit: expect.objectContaining({ state: 'closed' }) }),
      expect.objectContaining({ name: 'sandbox-backup', position: 2, channels: ['sms', 'whatsapp'], drained: null }),
    ]);
  });

  it('drains and undrains a provider, each recorded as an event with who did it', async () => {
    const drained = await adminFetch(
      '/v1/admin/providers/sandbox/drain',
      { method: 'POST', body: JSON.stringify({ operator: 'alice', reason: 'carrier outage' }) },
      twoProviders,
    );
    expect(drained.status).toBe(200);
    const during = await adminJson<Listing>('/v1/admin/providers', {}, twoProviders);
    expect(during.body.providers[0]!.drained).toMatchObject({ by: 'alice', reason: 'carrier outage' });
    const undrained = await adminJson<{ changed: boolean }>(
      '/v1/admin/providers/sandbox/undrain',
      { method: 'POST', body: '{"operator":"bob"}' },
      twoProviders,
    );
    expect(undrained.body.changed).toBe(true);
    const again = await adminJson<{ changed: boolean }>('/v1/admin/providers/sandbox/undrain', { method: 'POST' }, twoProviders);
    expect(again.body.changed).toBe(false);
    const after = await adminJson<Listing>('/v1/admin/providers', {}, twoProviders);
    expect(after.body.providers[0]!.drained).toBeNull();
    expect(after.body.events.slice(0, 2)).toEqual([
      expect.objectContaining({ provider: 'sandbox', kind: 'undrain', detail: 'by bob' }),
      expect.objectContaining({ provider: 'sandbox', kind: 'drain', detail: 'by alice: carrier outage' }),
    ]);
  });

  it('a provider the deployment does not have is 404; a bad body 400', async () => {
    const unknown = await adminJson<{ error: { code: string } }>('/v1/admin/providers/twilio/drain', { method: 'POST' }, twoProviders);
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    const bad = await adminFetch('/v1/admin/providers/sandbox/drain', { method: 'POST', body: JSON.stringify({ operator: '' }) }, twoProviders);
    expect(bad.status).toBe(400);
  });
});
