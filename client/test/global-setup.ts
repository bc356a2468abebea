/**
 * Node's test runner calls this once before every test file (`--test-global-setup`): the tests run
 * against a real service, $OTP_BASE_URL when set (any local `npm run dev` of the service, sandbox
 * provider), else a `wrangler dev` this repository's scripts start, stopped after the last file.
 */
interface Service {
  base: string;
  stop(): Promise<void>;
}

let service: Service | undefined;

export async function globalSetup(): Promise<void> {
  if (process.env.OTP_BASE_URL) return;
  // A module of the repository around this package, in plain JavaScript.
  const modulePath: string = new URL('../../scripts/lib/test-service.mjs', import.meta.url).href;
  const { startTestService } = (await import(modulePath)) as { startTestService(options: { label: string }): Promise<Service> };
  service = await startTestService({ label: 'otpd-client-tests' });
  process.env.OTP_BASE_URL = service.base;
}

export async function globalTeardown(): Promise<void> {
  await service?.stop();
}
