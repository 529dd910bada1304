/**
 * Money is an integer count of nano-yuan (1e-9 yuan) held in a bigint, never a float: per-token
 * prices such as 0.0003 yuan per 1K tokens (300 nano-yuan per token) stay exact. On the wire and
 * in the CLI it is a decimal string of yuan.
 */
export const NANOS_PER_YUAN = 1_000_000_000n;

/** The most an account may hold: 10^9 yuan, far inside a 64-bit integer of nano-yuan (9.2 × 10^18). */
export const MAX_BALANCE = 1_000_000_000n * NANOS_PER_YUAN;
const SCALE_DIGITS = 9;
const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/** "12.345678" → 12345678000n; more than 9 decimals or anything not a decimal → undefined. */
export function parseYuan(text: string): bigint | undefined {
  const match = DECIMAL.exec(text.trim());
  if (match === null) return undefined;
  const [, sign, whole, fraction = ''] = match;
  if (fraction.length > SCALE_DIGITS) return undefined;
  const nanos = BigInt(whole!) * NANOS_PER_YUAN + BigInt(fraction.padEnd(SCALE_DIGITS, '0'));
  return sign === '-' ? -nanos : nanos;
}

/** 12345678000n → "12.345678" (no trailing zeros; no point at all for whole yuan). */
export function formatYuan(nanos: bigint): string {
  // One bigint-to-decimal conversion and string slicing: on the hot path for every answer's
  // x-maas-cost and x-maas-balance headers, where division, modulo and a regex cost more.
  const negative = nanos < 0n;
  const digits = (negative ? -nanos : nanos).toString().padStart(SCALE_DIGITS + 1, '0');
  const point = digits.length - SCALE_DIGITS;
  let end = digits.length;
  while (end > point && digits.charCodeAt(end - 1) === ZERO) end--;
  const whole = digits.slice(0, point);
  const text = end > point ? `${whole}.${digits.slice(point, end)}` : whole;
  return negative ? `-${text}` : text;
}

const ZERO = 48; // '0'
