import { describe, expect, it } from 'vitest';
import configurationDoc from '../docs/configuration.md?raw';
import { SETTINGS } from '../src/config';
import { END_MARKER, renderSettingsTables, START_MARKER, withSettingsTables } from '../src/config-docs';

describe('docs/configuration.md', () => {
  it('holds the settings tables the schema in src/config.ts generates', () => {
    const start = configurationDoc.indexOf(START_MARKER);
    const end = configurationDoc.indexOf(END_MARKER);
    expect(start, `${START_MARKER} missing: run \`npm run docs:config\``).toBeGreaterThan(-1);
    const committed = configurationDoc.slice(start, end + END_MARKER.length);
    expect(committed, 'docs/configuration.md differs from src/config.ts: run `npm run docs:config` and commit the result').toBe(renderSettingsTables());
  });

  it('has one row per setting and secret, each with its doc line', () => {
    const rows = renderSettingsTables()
      .split('\n')
      .filter((line) => /^\| `[A-Z0-9_]+` \|/.test(line));
    expect(rows.map((row) => /^\| `([A-Z0-9_]+)`/.exec(row)![1])).toEqual(SETTINGS.map(({ info }) => info.env));
    for (const { info } of SETTINGS) expect(info.description.trim(), info.env).not.toBe('');
    expect(new Set(SETTINGS.map(({ info }) => info.env)).size).toBe(SETTINGS.length);
  });

  it('rewrites only the generated block of a document', () => {
    const document = `# Configuration\n\nprose before\n\n${START_MARKER}\nstale\n${END_MARKER}\n\nprose after\n`;
    expect(withSettingsTables(document)).toBe(`# Configuration\n\nprose before\n\n${renderSettingsTables()}\n\nprose after\n`);
    expect(withSettingsTables('# Configuration\n')).toBe(`# Configuration\n\n${renderSettingsTables()}\n`);
  });
});
