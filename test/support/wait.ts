/**
 * Resolves once `condition()` holds, checking again after each turn of the event loop: for work
 * the test started and does not await (a provider call in flight). Fails, naming `what`, if it
 * never does.
 */
export async function waitFor(condition: () => boolean, what: string, maxTurns = 20_000): Promise<void> {
  for (let turn = 0; turn < maxTurns; turn++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  throw new Error(`never happened: ${what}`);
}
