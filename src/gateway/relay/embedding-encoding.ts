/**
 * Embedding vectors on the wire: a JSON float array, or base64 of little-endian float32 bytes
 * (what the official SDKs request by default and decode).
 */
export function floatsToBase64(values: readonly number[]): string {
  const buf = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) buf.writeFloatLE(values[i]!, i * 4);
  return buf.toString('base64');
}

export function base64ToFloats(text: string): number[] {
  const buf = Buffer.from(text, 'base64');
  const out = new Array<number>(buf.length >>> 2);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}
