import type { Dispatcher, Pool } from 'undici';
import { MAX_RESPONSE_BYTES, type BodySink, type PushedBody, type UpstreamResponse, type WholeBody } from '../adapter.ts';

/**
 * One upstream call on undici's raw handler API instead of `request()`: no Readable, no async
 * iteration, no promise per chunk. The head resolves when the headers arrive. The body is
 * collected whole (`WholeBody`) when the caller will only use it whole — non-streamed answers,
 * and error answers of streams — or handed on chunk by chunk (`PushedBody`). The abort signal
 * (client gone, a gateway timer) stops the call at any point; the body then fails with the
 * signal's reason, as a destroyed stream would.
 */
export function requestRaw(pool: Pool, options: Dispatcher.DispatchOptions, signal: AbortSignal, stream: boolean): Promise<UpstreamResponse> {
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
  readonly #onAbort = (): void => this.#controller?.abort(this.#signal.reason as Error);

  constructor(signal: AbortSignal, stream: boolean, resolveHead: Head, rejectHead: (err: unknown) => void) {
    this.#signal = signal;
    this.#stream = stream;
    this.#resolveHead = resolveHead;
    this.#rejectHead = rejectHead;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#signal.aborted) controller.abort(this.#signal.reason as Error);
    else this.#signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    // Both are the body kinds of adapter.ts as they are: a WholeCollector is a WholeBody, a PushedStream a PushedBody.
    this.#body = this.#stream && status < 300 ? new PushedStream(controller) : new WholeCollector(controller);
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

/** Chunks collected to the end, refusing more than MAX_RESPONSE_BYTES. */
class WholeCollector implements WholeBody {
  readonly whole: Promise<Buffer>;
  readonly #controller: Dispatcher.DispatchController;
  readonly #chunks: Buffer[] = [];
  #size = 0;
  #resolve!: (body: Buffer) => void;
  #reject!: (err: unknown) => void;

  constructor(controller: Dispatcher.DispatchController) {
    this.#controller = controller;
    this.whole = new Promise<Buffer>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A caller that stops after the head must not turn a later failure into an unhandled rejection.
    this.whole.catch(() => undefined);
  }

  data(chunk: Buffer): void {
    this.#size += chunk.length;
    if (this.#size > MAX_RESPONSE_BYTES) this.#controller.abort(new RangeError(`upstream body larger than ${MAX_RESPONSE_BYTES} bytes`));
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
