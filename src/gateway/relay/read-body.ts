import type { Readable } from 'node:stream';
import type { WholeBody } from '../../providers/adapter.ts';

/** Reads a whole upstream body, refusing to buffer more than `limit` bytes. */
export async function readBody(body: Readable | WholeBody, limit: number): Promise<Buffer> {
  if ('whole' in body) {
    const whole = await body.whole;
    if (whole.length > limit) throw new RangeError(`upstream body larger than ${limit} bytes`);
    return whole;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      body.destroy();
      throw new RangeError(`upstream body larger than ${limit} bytes`);
    }
    chunks.push(buf);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}
