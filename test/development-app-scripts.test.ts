import { describe, expect, it } from 'vitest';
import appsDoc from '../docs/apps.md?raw';
import { DEVELOPMENT_APP } from '../src/apps/development-app';

interface ScriptsDevelopmentApp {
  DEV_APP: { id: string; secretKey: string; publishableKey: string };
  DEV_APP_AUTH: { Authorization: string };
}

// The scripts' copy (Node cannot import the TypeScript module), loaded as the scripts load it.
const scriptModules = import.meta.glob<ScriptsDevelopmentApp>('../scripts/lib/development-app.mjs', { eager: true });

/** The e2e scripts, soak, benchmarks and browser test call a local Worker as the development app. */
describe('the development app the scripts use', () => {
  it('has the id and keys a development Worker seeds', () => {
    const scripts = Object.values(scriptModules);
    expect(scripts).toHaveLength(1);
    const { DEV_APP, DEV_APP_AUTH } = scripts[0]!;
    expect(DEV_APP).toEqual({ id: DEVELOPMENT_APP.id, secretKey: DEVELOPMENT_APP.secretKey, publishableKey: DEVELOPMENT_APP.publishableKey });
    expect(DEV_APP_AUTH).toEqual({ Authorization: `Bearer ${DEVELOPMENT_APP.secretKey}` });
  });

  it('is the one docs/apps.md documents', () => {
    const table = appsDoc.slice(appsDoc.indexOf('## The development app'));
    for (const value of [DEVELOPMENT_APP.id, DEVELOPMENT_APP.secretKey, DEVELOPMENT_APP.publishableKey]) expect(table).toContain(`\`${value}\``);
  });
});
