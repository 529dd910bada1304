import type { Dispatcher, Pool } from 'undici';
import { MAX_RESPONSE_BYTES, type UpstreamResponse } from '../adapter.ts';

/**
 * A request whose answer is used only whole (non-streaming calls), on undici's raw handler
 * API: the head resolves when the headers arrive, the body's chunks are collected as they
 * come, and `whole` resolves with them at the end — no Readable, no async iteration, no promise
 * per chunk. The abort signal (client gone, a gateway timer) stops the request at any point;
 * `whole` then rejects with the signal's reason, as a stream would have been destroyed with it.
 */
export function requestWhole(pool: Pool, options: Dispatcher.DispatchOptions, signal: AbortSignal): Promise<UpstreamResponse> {
  return new Promise((resolveHead, rejectHead) => {
    let headSent = false;
    let resolveWhole!: (body: Buffer) => void;
    let rejectWhole!: (err: unknown) => void;
    const whole = new Promise<Buffer>((resolve, reject) => {
      resolveWhole = resolve;
      rejectWhole = reject;
    });
    // A caller that stops after the head (an error status it answers without the body) must not
    // turn a later failure into an unhandled rejection.
    whole.catch(() => undefined);
    const chunks: Buffer[] = [];
    let size = 0;
    let controller: Dispatcher.DispatchController | undefined;
    const onAbort = (): void => controller?.abort(signal.reason as Error);
    const fail = (err: unknown): void => {
      signal.removeEventListener('abort', onAbort);
      if (headSent) rejectWhole(err);
      else rejectHead(err);
    };

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(ctl) {
        controller = ctl;
        if (signal.aborted) ctl.abort(signal.reason as Error);
        else signal.addEventListener('abort', onAbort, { once: true });
      },
      onResponseStart(_ctl, status, headers) {
        headSent = true;
        resolveHead({ status, headers, body: { whole } });
      },
      onResponseData(ctl, chunk) {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) ctl.abort(new RangeError(`upstream body larger than ${MAX_RESPONSE_BYTES} bytes`));
        else chunks.push(chunk);
      },
      onResponseEnd() {
        signal.removeEventListener('abort', onAbort);
        resolveWhole(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      },
      onResponseError(_ctl, err) {
        fail(err);
      },
    };
    try {
      pool.dispatch(options, handler);
    } catch (err) {
      fail(err);
    }
  });
}
