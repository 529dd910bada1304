import { addAbortListener } from 'node:events';
import { Readable } from 'node:stream';

/**
 * Hands a chunk to the reader. Returns undefined when the reader wants more at once (the common
 * case, no promise allocated) or a promise that resolves once it does: backpressure.
 * Throws once the stream has been destroyed, so a producer never writes into the void.
 */
export type Push = (chunk: string) => Promise<void> | undefined;
export type Producer = (push: Push, signal: AbortSignal) => Promise<void>;

/**
 * A byte stream fed by an async producer. Destroying the stream (the reader went away) or
 * aborting `external` (the client went away) aborts the producer's signal at once, even while
 * it sleeps or waits in a queue; a producer that throws destroys the stream with its error.
 */
export function producerReadable(produce: Producer, external: AbortSignal): Readable {
  const controller = new AbortController();
  let finished = false;
  let wake: (() => void) | undefined;
  const resume = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const readable = new Readable({
    read: resume,
    destroy(error, callback) {
      // autoDestroy runs this after a normal end too; only an early destroy stops the producer.
      if (!finished) controller.abort(error ?? new Error('the reader closed the simulator stream'));
      resume();
      callback(error);
    },
  });
  const push: Push = (chunk) => {
    if (controller.signal.aborted) throw controller.signal.reason;
    if (readable.push(chunk)) return undefined;
    return new Promise((resolve) => {
      wake = resolve;
    });
  };
  const onExternalAbort = (): void => {
    readable.destroy(external.reason instanceof Error ? external.reason : new Error('request aborted'));
  };
  // Also fires (asynchronously) when `external` is already aborted.
  const detach = addAbortListener(external, onExternalAbort);
  produce(push, controller.signal).then(
    () => {
      finished = true;
      detach[Symbol.dispose]();
      if (!readable.destroyed) readable.push(null);
    },
    (error: unknown) => {
      finished = true;
      detach[Symbol.dispose]();
      readable.destroy(error instanceof Error ? error : new Error(String(error)));
    },
  );
  return readable;
}
