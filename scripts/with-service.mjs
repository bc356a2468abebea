#!/usr/bin/env node
/**
 * `node scripts/with-service.mjs -- <command> [args…]`: starts the service once (a `wrangler dev`
 * of this tree, scripts/lib/test-service.mjs), runs the command with OTP_BASE_URL set to it, stops
 * the service and exits with the command's status. CI runs the typed client's tests and the example
 * app's browser test this way, against one wrangler dev.
 */
import { spawn } from 'node:child_process';
import { startTestService } from './lib/test-service.mjs';

const separator = process.argv.indexOf('--');
const [command, ...args] = separator === -1 ? process.argv.slice(2) : process.argv.slice(separator + 1);
if (!command) {
  console.error('usage: node scripts/with-service.mjs -- <command> [args…]');
  process.exit(2);
}

const service = await startTestService({ label: 'otpd-with-service' });
console.log(`service on ${service.base}`);
let stopping = null;
const stop = () => (stopping ??= service.stop());
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await stop();
    process.exit(1);
  });
}
const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, OTP_BASE_URL: service.base } });
const status = await new Promise((done) => child.once('exit', (code, signal) => done(code ?? (signal ? 1 : 0))));
await stop();
process.exit(status);
