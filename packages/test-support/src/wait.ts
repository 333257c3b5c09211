/**
 * Wait until `condition` holds, checking every few milliseconds. For integration tests that
 * wait for something another process or socket does: the deadline is a failure detector
 * (generous, so a loaded machine never trips it), not a timing assertion. Rejects naming
 * `what` when the deadline passes.
 */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
