/**
 * SSE framing for OpenAI streams: data-only events (the SDKs mis-handle named events on chat
 * streams). JSON never contains a raw line break, so one `data:` line per event is safe; other
 * text is split per line so it cannot inject fields.
 */
export const SSE_DONE = 'data: [DONE]\n\n';

export function sseData(json: string): string {
  return `data: ${json}\n\n`;
}

export function sseText(text: string): string {
  return text.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`).join('') + '\n';
}

export const SSE_HEADERS = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
});
