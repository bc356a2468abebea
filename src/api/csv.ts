/**
 * RFC 4180 CSV for spreadsheets. A cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`
 * first) gets a leading apostrophe, which spreadsheets hide; phone numbers keep their `+` that way.
 */
export function toCsv<T>(columns: ReadonlyArray<CsvColumn<T>>, rows: readonly T[]): string {
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

export type CsvColumn<T> = readonly [header: string, value: (row: T) => unknown];

/** Columns that are fields of the view itself, headed by their names: the CSV says what the JSON says. */
export function viewColumns<T>(...keys: ReadonlyArray<keyof T & string>): CsvColumn<T>[] {
  return keys.map((key) => [key, (row: T) => row[key]] as const);
}
