import { SETTINGS } from './config.ts';
import type { SettingEntry } from './config-settings.ts';

/**
 * The settings tables of docs/configuration.md, written from the schema in config.ts so that the
 * docs cannot drift from it: `npm run docs:config` writes them, and a test fails when they differ.
 */

export const DOCS_PATH = 'docs/configuration.md';
export const START_MARKER = '<!-- settings:start -->';
export const END_MARKER = '<!-- settings:end -->';

const cell = (text: string) => text.replaceAll('|', '\\|');
const code = (text: string) => (text === '' ? 'empty' : `\`${text}\``);

function section(title: string, description: string, entries: SettingEntry[]): string[] {
  const secrets = entries.every(({ info }) => info.secret);
  const header = secrets ? ['| secret | needed | what it is |', '|---|---|---|'] : ['| var | default | accepts | what it does |', '|---|---|---|---|'];
  const rows = entries.map(({ info }) =>
    info.secret
      ? `| \`${info.env}\` | ${cell(info.secret.needed)} | ${cell(info.description)} |`
      : `| \`${info.env}\` | ${cell(code(info.default ?? ''))} | ${cell(info.accepts)} | ${cell(info.description)} |`,
  );
  return [`### ${title}`, '', ...(description ? [description, ''] : []), ...header, ...rows, ''];
}

/** The generated block, markers included. */
export function renderSettingsTables(): string {
  const sections = new Map<string, SettingEntry[]>();
  for (const entry of SETTINGS) {
    const title = entry.group?.title ?? 'General';
    sections.set(title, [...(sections.get(title) ?? []), entry]);
  }
  const lines = [...sections].flatMap(([title, entries]) => section(title, entries[0]!.group?.description ?? '', entries));
  return [START_MARKER, '<!-- Generated from src/config.ts by `npm run docs:config`: edit the schema, not these tables. -->', '', ...lines, END_MARKER].join(
    '\n',
  );
}

/** `document` with its generated block replaced (or appended when it has none yet). */
export function withSettingsTables(document: string): string {
  const start = document.indexOf(START_MARKER);
  const end = document.indexOf(END_MARKER);
  if (start === -1 || end < start) return `${document.trimEnd()}\n\n${renderSettingsTables()}\n`;
  return document.slice(0, start) + renderSettingsTables() + document.slice(end + END_MARKER.length);
}
