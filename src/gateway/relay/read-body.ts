import type { Readable } from 'node:stream';
import type { PushedBody, UpstreamResponse, WholeBody } from '../../providers/adapter.ts';

/** Reads a whole upstream body, of any kind an adapter returns, refusing to buffer more than `limit` bytes. */
export async function readBody(body: UpstreamResponse['body'], limit: number): Promise<Buffer> {
  if (isWhole(body)) {
    const whole = await body.whole;
    if (whole.length > limit) throw new RangeError(`upstream body larger than ${limit} bytes`);
    return whole;
  }
  return collect(isPushed(body) ? body : pushedFromReadable(body), limit);
}

function collect(body: PushedBody, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.consume({
      data(chunk) {
        size += chunk.length;
        if (size <= limit) chunks.push(chunk);
        else {
          body.destroy();
          reject(new RangeError(`upstream body larger than ${limit} bytes`));
        }
      },
      end: () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)),
      error: reject,
    });
  });
}

function isWhole(body: UpstreamResponse['body']): body is WholeBody {
  return 'whole' in body;
}

function isPushed(body: UpstreamResponse['body']): body is PushedBody {
  return 'consume' in body;
}

/** A streamed body of any kind as a `PushedBody` (in-process engines hand over Node streams). */
export function pushedBody(body: UpstreamResponse['body']): PushedBody | undefined {
  if (isWhole(body)) return undefined;
  return isPushed(body) ? body : pushedFromReadable(body);
}

function pushedFromReadable(readable: Readable): PushedBody {
  return {
    consume(sink) {
      let ended = false;
      readable.on('data', (chunk: Buffer) => sink.data(chunk));
      readable.once('end', () => {
        ended = true;
        sink.end();
      });
      readable.once('error', (err) => {
        ended = true;
        sink.error(err);
      });
      readable.once('close', () => {
        if (!ended) sink.error(new Error('the upstream stream closed before its end'));
      });
    },
    pause: () => readable.pause(),
    resume: () => readable.resume(),
    destroy: () => readable.destroy(),
  };
}
