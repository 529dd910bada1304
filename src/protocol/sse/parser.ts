import { StringDecoder } from 'node:string_decoder';

export interface SseEvent {
  /** The `event:` field; empty when the upstream sent none (the OpenAI case). */
  readonly event: string;
  /** `data:` lines joined with '\n', as the spec says. */
  readonly data: string;
}

const DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024;

export class SseEventTooLargeError extends Error {
  constructor(limit: number) {
    super(`An upstream SSE event exceeded ${limit} bytes.`);
    this.name = 'SseEventTooLargeError';
  }
}

/**
 * Incremental SSE parser per the WHATWG event-stream rules: CR, LF and CRLF line ends (also
 * split across chunks), a leading BOM, comment lines, multi-line data, one optional space after
 * the colon. Multi-byte UTF-8 split across chunks is reassembled by the decoder.
 */
export class SseParser {
  readonly #onEvent: (event: SseEvent) => void;
  readonly #maxEventBytes: number;
  readonly #decoder = new StringDecoder('utf8');
  #buffer = '';
  #data: string[] = [];
  /** Characters in `#data`: an event of many short data lines must hit the limit too. */
  #dataLength = 0;
  #event = '';
  #pendingCR = false;
  #started = false;

  constructor(onEvent: (event: SseEvent) => void, maxEventBytes = DEFAULT_MAX_EVENT_BYTES) {
    this.#onEvent = onEvent;
    this.#maxEventBytes = maxEventBytes;
  }

  push(chunk: Buffer | string): void {
    let text = typeof chunk === 'string' ? chunk : this.#decoder.write(chunk);
    if (!this.#started && text.length > 0) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#pendingCR && text.length > 0) {
      this.#pendingCR = false;
      if (text.charCodeAt(0) === 10) text = text.slice(1);
    }
    this.#buffer = this.#buffer.length === 0 ? text : this.#buffer + text;
    this.#drainLines();
    if (this.#buffer.length > this.#maxEventBytes) throw new SseEventTooLargeError(this.#maxEventBytes);
  }

  /** Flushes a final event that was not followed by a blank line. */
  end(): void {
    const rest = this.#decoder.end();
    if (rest.length > 0) this.push(rest);
    if (this.#buffer.length > 0) {
      this.#line(this.#buffer);
      this.#buffer = '';
    }
    this.#dispatch();
  }

  #drainLines(): void {
    const buf = this.#buffer;
    // Engines end lines with LF only: then a native search finds each line end; CRs need the
    // character loop, which also handles a CRLF split across chunks.
    const start = buf.indexOf('\r') === -1 ? this.#splitOnLf(buf) : this.#splitAnyLineEnd(buf);
    this.#buffer = start === 0 ? buf : buf.slice(start);
  }

  /** Dispatches every complete line; returns where the incomplete rest starts. */
  #splitOnLf(buf: string): number {
    let start = 0;
    for (let end = buf.indexOf('\n'); end !== -1; end = buf.indexOf('\n', start)) {
      this.#line(buf.slice(start, end));
      start = end + 1;
    }
    return start;
  }

  #splitAnyLineEnd(buf: string): number {
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.#line(buf.slice(start, i));
      if (c === 13) {
        if (i + 1 === buf.length) this.#pendingCR = true;
        else if (buf.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    return start;
  }

  #line(line: string): void {
    if (line.length === 0) {
      this.#dispatch();
      return;
    }
    if (line.startsWith('data: ')) {
      this.#addData(line.slice(6));
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.#addData(value);
    else if (field === 'event') this.#event = value;
  }

  #addData(value: string): void {
    this.#dataLength += value.length + 1;
    if (this.#dataLength > this.#maxEventBytes) throw new SseEventTooLargeError(this.#maxEventBytes);
    this.#data.push(value);
  }

  #dispatch(): void {
    if (this.#data.length === 0) {
      this.#event = '';
      return;
    }
    const data = this.#data.length === 1 ? this.#data[0]! : this.#data.join('\n');
    const event = this.#event;
    this.#data = [];
    this.#dataLength = 0;
    this.#event = '';
    this.#onEvent({ event, data });
  }
}
