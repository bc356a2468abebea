export function dashboardPage(options: { nonce: string; sandbox: boolean }): string {
  return `<!doctype html><html><head><style nonce="${options.nonce}"></style></head><body></body></html>`;
}
