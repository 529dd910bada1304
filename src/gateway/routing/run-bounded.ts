/**
 * Calls `fn` for every item with at most `limit` calls in flight, and resolves when all have
 * settled. `fn` must not throw: background rounds handle each item's failure themselves, and
 * one bad upstream must not stop the others from being visited.
 */
export async function runBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
