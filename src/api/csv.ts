/**
 * RFC 4180 CSV for spreadsheets. A cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`
 * first) gets a leading apostrophe, which spreadsheets hide; phone numbers keep their `+` that way.
 */
export function toCsv<T>(columns: ReadonlyArray<readonly [header: string, value: (row: T) => unknown]>, rows: readonly T[]): string {
  const lines = [columns.map(([header]) => cell(header)).join(',')];
  for (const row of rows) lines.push(columns.map(([, value]) => cell(value(row))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
