import type { ServerResponse } from 'node:http';
import { GatewayError, UpstreamError } from '../../errors/gateway-error.ts';
import type { PushedBody } from '../../providers/adapter.ts';
import { serializeError, toGatewayError } from '../../errors/to-openai.ts';
import { SseParser } from '../../protocol/sse/parser.ts';
import { sseData } from '../../protocol/sse/writer.ts';
import type { StreamTransformer } from './stream-transform.ts';

export type StreamEnd = 'complete' | 'client_aborted' | 'upstream_failed';

export interface StreamOutcome {
  readonly end: StreamEnd;
  /** Set when the stream ended with an error event. */
  readonly error?: GatewayError;
  /** Milliseconds from pump start to the first byte written to the client. */
  readonly firstByteMs: number | undefined;
}

export interface PumpControl {
  /** Called once, just before the first byte goes to the client: takes over the socket, writes the headers. */
  open(): void;
  /** Called on every upstream read (idle timer). */
  read(): void;
  /**
   * The upstream is paused while the client's socket drains (true), or resumed (false): a client
   * that reads slowly is not an upstream that went idle.
   */
  waitingForClient(waiting: boolean): void;
  /** Why the call was aborted, when the gateway aborted it itself (a timeout); undefined when the client left. */
  abortError(): GatewayError | undefined;
}

/**
 * Moves an upstream SSE body to the client event by event. Backpressure: when the client's
 * socket is full, the upstream is paused until it drains. The response starts only with the
 * first event, so a failure before it is thrown and the request can still go to another
 * deployment. A failure after the first byte cannot change the status any more, so it is sent
 * as one `data:` error event and the response ends without `[DONE]`, which lets clients tell a
 * cut stream from a complete one.
 */
export function pumpStream(
  upstream: PushedBody,
  res: ServerResponse,
  transformer: StreamTransformer,
  signal: AbortSignal,
  control: PumpControl,
): Promise<StreamOutcome> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let firstByteMs: number | undefined;
    let done = false;
    // Events parsed from one upstream read are written with one socket write: a write per event
    // costs a syscall each, and they would leave in the same tick anyway.
    let pending = '';
    const parser = new SseParser((event) => {
      pending += transformer.event(event.data);
    });
    /** What is pending, taken for one write; opens the response before its first byte. */
    const take = (): string => {
      if (firstByteMs === undefined) {
        control.open();
        firstByteMs = performance.now() - started;
      }
      const text = pending;
      pending = '';
      return text;
    };
    const resume = (): void => {
      control.waitingForClient(false);
      upstream.resume();
    };

    const fail = (err: unknown): void => {
      if (done) return;
      done = true;
      upstream.destroy();
      const timeout = control.abortError();
      if (timeout === undefined && (signal.aborted || res.destroyed)) return resolve({ end: 'client_aborted', firstByteMs });
      const error = timeout ?? (err instanceof GatewayError ? err : streamFailure(err));
      // Nothing reached the client yet: the caller may still answer with a status, or try elsewhere.
      if (firstByteMs === undefined) return reject(error);
      // Events parsed before the failure still go out, then the error event.
      res.end(pending + sseData(serializeError(error)));
      resolve({ end: 'upstream_failed', error, firstByteMs });
    };

    upstream.consume({
      data(chunk) {
        if (done) return;
        control.read();
        try {
          parser.push(chunk);
          if (pending.length > 0 && !res.write(take())) {
            upstream.pause();
            control.waitingForClient(true);
            whenDrained(res, resume);
          }
        } catch (err) {
          fail(err);
        }
      },
      end() {
        if (done) return;
        try {
          parser.end();
          if (!transformer.complete) throw new UpstreamError('upstream_error', 'The upstream closed the stream before it was complete.');
          pending += transformer.finish();
          // The tail and the end of the chunked body in one socket write.
          res.end(take());
        } catch (err) {
          return fail(err);
        }
        done = true;
        resolve({ end: 'complete', firstByteMs });
      },
      error: fail,
    });
  });
}

function streamFailure(err: unknown): GatewayError {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (code.startsWith('UND_ERR') || code.startsWith('E'))) {
    return new UpstreamError('upstream_error', 'The connection to the upstream failed mid-stream.');
  }
  const mapped = toGatewayError(err);
  return mapped.code === 'internal_error' ? new UpstreamError('upstream_error', 'The upstream stream failed.') : mapped;
}

/** Calls `then` once the client's socket drained, or closed (the abort then ends the stream). */
function whenDrained(res: ServerResponse, then: () => void): void {
  const done = (): void => {
    res.off('drain', done);
    res.off('close', done);
    then();
  };
  res.on('drain', done);
  res.on('close', done);
}
