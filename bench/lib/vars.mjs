/**
 * The vars of the project's local environment: the defaults declared in src/config.ts (Node strips
 * its types) with wrangler.toml's `[vars]` over them, read at run time so that a benchmark always
 * starts from the values the service ships with, and scales or overrides them explicitly.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS } from '../../src/config.ts';
import { ROOT } from './harness.mjs';

export function wranglerVars(root = ROOT) {
  const text = readFileSync(join(root, 'wrangler.toml'), 'utf8');
  const vars = Object.fromEntries(SETTINGS.filter(({ info }) => !info.secret).map(({ info }) => [info.env, info.default]));
  let inVars = false;
  for (const line of text.split('\n')) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header) {
      inVars = header[1].trim() === 'vars';
      continue;
    }
    if (/^\s*\[\[/.test(line)) {
      inVars = false;
      continue;
    }
    if (!inVars) continue;
    const pair = /^\s*([A-Z0-9_]+)\s*=\s*"(.*)"\s*$/.exec(line);
    if (pair) vars[pair[1]] = pair[2];
  }
  return vars;
}

/** `"1/60,5/3600"` with every window divided by `factor`; throws unless each divides exactly. */
export function scaleWindows(value, factor) {
  return value
    .split(',')
    .map((part) => {
      const [count, seconds] = part.trim().split('/').map(Number);
      return `${count}/${scaleSeconds(seconds, factor)}`;
    })
    .join(',');
}

export function scaleSecondsList(value, factor) {
  return value
    .split(',')
    .map((part) => scaleSeconds(Number(part.trim()), factor))
    .join(',');
}

export function scaleSeconds(seconds, factor) {
  const scaled = seconds / factor;
  if (!Number.isInteger(scaled) || scaled < 1) throw new Error(`${seconds} s does not scale by ${factor} to a whole number of seconds`);
  return scaled;
}
