/**
 * Wait until `check` holds, checking it every few milliseconds: the one polling helper of the
 * tests, for something another process or socket does that no event marks (a counter behind
 * an HTTP API, a socket closed by the peer). `check` may be asynchronous (an HTTP request).
 * The deadline is a failure detector, generous so a loaded machine never trips it, not a
 * timing assertion; it rejects naming `what`. Prefer waiting on an event where one exists.
 */
export async function eventually(check: () => boolean | Promise<boolean>, what = 'a condition to hold', timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
