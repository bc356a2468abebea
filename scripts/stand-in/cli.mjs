/**
 * The command line both provider stand-ins share (scripts/startmessaging-stand-in.mjs,
 * scripts/twilio-stand-in.mjs): flags with values (`--port 0` or `--port=0`), switches, and whether
 * the file was run directly or imported by a test or benchmark.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `values`: flag → [option name, convert]; `switches`: flag → [option name, value it sets].
 * `--help` answers `{ help: true }`. Throws on an unknown flag, a missing value or a NaN number.
 */
export function parseStandInArgs(argv, { values, switches }) {
  const options = {};
  for (let index = 0; index < argv.length; index += 1) {
    let arg = argv[index];
    let value;
    if (arg.includes('=')) [arg, value] = [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)];
    if (arg === '--help' || arg === '-h') return { help: true };
    if (switches[arg]) {
      const [name, set] = switches[arg];
      options[name] = set;
    } else if (values[arg]) {
      value ??= argv[++index];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      const [name, convert] = values[arg];
      options[name] = convert(value);
      if (typeof options[name] === 'number' && Number.isNaN(options[name])) throw new Error(`${arg}: not a number: ${value}`);
    } else {
      throw new Error(`unknown argument: ${arg}`);
    }
  }
  return options;
}

/** Whether the module at `moduleUrl` (its import.meta.url) is the script node was started with. */
export function isMainModule(moduleUrl) {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
