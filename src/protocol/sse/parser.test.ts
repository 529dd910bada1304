import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser, SseEventTooLargeError, type SseEvent } from './parser.ts';

function parseAll(chunks: Array<string | Buffer>): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = new SseParser((e) => events.push(e));
  for (const c of chunks) parser.push(c);
  parser.end();
  return events;
}

test('splits events on blank lines with LF, CRLF and CR line ends', () => {
  for (const nl of ['\n', '\r\n', '\r']) {
    const events = parseAll([`data: a${nl}${nl}data: b${nl}${nl}`]);
    assert.deepEqual(events.map((e) => e.data), ['a', 'b'], JSON.stringify(nl));
  }
});

test('reassembles events and CRLF split across chunks', () => {
  const events = parseAll(['da', 'ta: {"x":', '1}\r', '\n\r', '\ndata: [DONE]\n', '\n']);
  assert.deepEqual(events.map((e) => e.data), ['{"x":1}', '[DONE]']);
});

test('reassembles multi-byte UTF-8 split across chunks', () => {
  const bytes = Buffer.from('data: 你好\n\n');
  const events = parseAll([bytes.subarray(0, 8), bytes.subarray(8)]);
  assert.deepEqual(events.map((e) => e.data), ['你好']);
});

test('joins multi-line data, ignores comments, strips one space and a BOM, keeps event names', () => {
  const events = parseAll(['\uFEFF: ping\n\nevent: error\ndata:  two spaces\ndata:x\n\n']);
  assert.deepEqual(events, [{ event: 'error', data: ' two spaces\nx' }]);
});

test('flushes a final event without a trailing blank line', () => {
  assert.deepEqual(parseAll(['data: last']).map((e) => e.data), ['last']);
});

test('refuses an unbounded event', () => {
  const parser = new SseParser(() => {}, 16);
  assert.throws(() => parser.push('data: ' + 'x'.repeat(64)), SseEventTooLargeError);
});

test('refuses an event of many short data lines that never ends, and keeps events under the limit whole', () => {
  const seen: string[] = [];
  const parser = new SseParser((e) => seen.push(e.data), 64);
  parser.push('data: 0123456789\ndata: abc\n\n');
  assert.deepEqual(seen, ['0123456789\nabc']);
  assert.throws(() => {
    for (let i = 0; i < 100; i++) parser.push('data: x\n');
  }, SseEventTooLargeError);
});
