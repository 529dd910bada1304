import type { Dispatcher, Pool } from 'undici';
import { MAX_ERROR_BODY_BYTES, MAX_RESPONSE_BYTES, type BodySink, type PushedBody, type UpstreamResponse, type WholeBody } from '../adapter.ts';

/**
 * One upstream call on undici's raw handler API instead of `request()`: no Readable, no async
 * iteration, no promise per chunk. The head resolves when the headers arrive. The body is
 * collected whole (`WholeBody`) when the caller will only use it whole — non-streamed answers,
 * and error answers of streams — or handed on chunk by chunk (`PushedBody`). The abort signal
 * (client gone, a gateway timer) stops the call at any point — also while it waits in the
 * pool's queue for a connection, when undici has not started it yet: the head then fails at
 * once and the call is cancelled when undici gets to it. The body fails with the signal's
 * reason, as a destroyed stream would.
 */
export function requestRaw(pool: Pool, options: Dispatcher.DispatchOptions, signal: AbortSignal, stream: boolean): Promise<UpstreamResponse> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolveHead, rejectHead) => {
    const call = new RawCall(signal, stream, resolveHead, rejectHead);
    try {
      pool.dispatch(options, call);
    } catch (err) {
      call.onResponseError(undefined, err as Error);
    }
  });
}

type Head = (response: UpstreamResponse) => void;

class RawCall implements Dispatcher.DispatchHandler {
  readonly #signal: AbortSignal;
  readonly #stream: boolean;
  readonly #resolveHead: Head;
  readonly #rejectHead: (err: unknown) => void;
  #controller: Dispatcher.DispatchController | undefined;
  /** Set once the head resolved: where the body goes. */
  #body: WholeCollector | PushedStream | undefined;
  readonly #onAbort = (): void => {
    const reason = this.#signal.reason as Error;
    if (this.#controller !== undefined) this.#controller.abort(reason);
    else this.#rejectHead(reason); // still queued: undici starts it later, onRequestStart cancels it
  };

  constructor(signal: AbortSignal, stream: boolean, resolveHead: Head, rejectHead: (err: unknown) => void) {
    this.#signal = signal;
    this.#stream = stream;
    this.#resolveHead = resolveHead;
    this.#rejectHead = rejectHead;
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#signal.aborted) controller.abort(this.#signal.reason as Error);
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    // Both are the body kinds of adapter.ts as they are: a WholeCollector is a WholeBody, a PushedStream a PushedBody.
    this.#body = this.#stream && status < 300
      ? new PushedStream(controller)
      : new WholeCollector(controller, status < 300 ? MAX_RESPONSE_BYTES : MAX_ERROR_BODY_BYTES);
    this.#resolveHead({ status, headers, body: this.#body });
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#body!.data(chunk);
  }

  onResponseEnd(): void {
    this.#signal.removeEventListener('abort', this.#onAbort);
    this.#body!.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.#signal.removeEventListener('abort', this.#onAbort);
    if (this.#body === undefined) this.#rejectHead(err);
    else this.#body.error(err);
  }
}

/** Chunks collected to the end, refusing more than `limit` bytes. */
class WholeCollector implements WholeBody {
  readonly whole: Promise<Buffer>;
  readonly #controller: Dispatcher.DispatchController;
  readonly #limit: number;
  readonly #chunks: Buffer[] = [];
  #size = 0;
  #resolve!: (body: Buffer) => void;
  #reject!: (err: unknown) => void;

  constructor(controller: Dispatcher.DispatchController, limit: number) {
    this.#controller = controller;
    this.#limit = limit;
    this.whole = new Promise<Buffer>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A caller that stops after the head must not turn a later failure into an unhandled rejection.
    this.whole.catch(() => undefined);
  }

  data(chunk: Buffer): void {
    this.#size += chunk.length;
    if (this.#size > this.#limit) this.#controller.abort(new RangeError(`upstream body larger than ${this.#limit} bytes`));
    else this.#chunks.push(chunk);
  }

  end(): void {
    this.#resolve(this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#size));
  }

  error(err: unknown): void {
    this.#reject(err);
  }
}

/** Chunks handed to the consumer as they come; what arrives before it subscribes waits for it. */
class PushedStream implements PushedBody {
  readonly #controller: Dispatcher.DispatchController;
  #sink: BodySink | undefined;
  #early: Buffer[] = [];
  #outcome: { readonly err: unknown } | 'end' | undefined;
  #destroyed = false;

  constructor(controller: Dispatcher.DispatchController) {
    this.#controller = controller;
  }

  consume(sink: BodySink): void {
    this.#sink = sink;
    const early = this.#early;
    this.#early = [];
    for (const chunk of early) if (!this.#destroyed) sink.data(chunk);
    if (this.#destroyed || this.#outcome === undefined) return;
    if (this.#outcome === 'end') sink.end();
    else sink.error(this.#outcome.err);
  }

  pause(): void {
    this.#controller.pause();
  }

  resume(): void {
    this.#controller.resume();
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    if (this.#outcome === undefined) this.#controller.abort(new Error('upstream body destroyed by the gateway'));
  }

  data(chunk: Buffer): void {
    if (this.#destroyed) return;
    if (this.#sink === undefined) this.#early.push(chunk);
    else this.#sink.data(chunk);
  }

  end(): void {
    this.#outcome = 'end';
    if (!this.#destroyed) this.#sink?.end();
  }

  error(err: unknown): void {
    this.#outcome = { err };
    if (!this.#destroyed) this.#sink?.error(err);
  }
}
