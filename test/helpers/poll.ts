import assert from 'node:assert/strict';

/**
 * Resolves once `check` holds, asking again every 25 ms; fails naming `what` after `timeoutMs`.
 * For state that changes in the background (probes, scrapes), where a fixed sleep would either
 * waste time or be too short on a busy machine.
 */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
