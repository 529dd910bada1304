import { randomString } from './ids.ts';

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';
const PREFIX_LENGTH = 12;
const COUNTER_LENGTH = 8;
const COUNTER_LIMIT = 36 ** COUNTER_LENGTH;

/**
 * Ids for rows written on the hot path (ledger entries): `<prefix>_` and 20 base36 characters,
 * 12 drawn once from the CSPRNG (about 62 bits) and 8 of a counter, zero-padded. Unique across
 * processes by the random part and within one by the counter, without a CSPRNG read per id;
 * and ids of one process sort in the order they were issued. The random part is drawn again
 * if the counter ever runs out (2.8 × 10^12 ids).
 */
export class SequentialIds {
  readonly #prefix: string;
  #random = '';
  #counter = COUNTER_LIMIT;

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  next(): string {
    if (this.#counter >= COUNTER_LIMIT) {
      this.#random = `${this.#prefix}_${randomString(PREFIX_LENGTH, BASE36)}`;
      this.#counter = 0;
    }
    return this.#random + (this.#counter++).toString(36).padStart(COUNTER_LENGTH, '0');
  }
}
