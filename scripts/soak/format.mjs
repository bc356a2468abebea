/** How the soak prints numbers and tables. */

/** A number to `digitsAfter` decimals; '-' for a missing one (an empty sample). */
export const fmt = (value, digitsAfter = 1) => (value === null || value === undefined ? '-' : Number(value).toFixed(digitsAfter));

export function table(header, rows) {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => String(row[column]).length)));
  const line = (cells) => `| ${cells.map((cell, column) => String(cell).padEnd(widths[column])).join(' | ')} |`;
  return [line(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
