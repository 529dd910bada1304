import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderError } from './errors.ts';
import { FaultState, NO_FAULTS, parseRequestFaults } from './faults.ts';

test('per-request faults are validated; absent means none', () => {
  assert.equal(parseRequestFaults(undefined), NO_FAULTS);
  assert.deepEqual(parseRequestFaults({ status: 503, delay_ms: 5 }), { status: 503, delay_ms: 5 });
  assert.throws(() => parseRequestFaults({ status: 200 }), /sim\.status must be an integer from 400 to 599/);
  assert.throws(() => parseRequestFaults({ count: 1 }), /sim\.count is not a simulator fault field/);
  assert.throws(() => parseRequestFaults({ error_format: 'xml' }), /sim\.error_format must be one of/);
  assert.throws(() => parseRequestFaults('boom'), (e: Error & { status?: number }) => e.status === 400);
});

test('server-wide faults apply to the next `count` requests, under per-request ones', () => {
  const state = new FaultState();
  state.set({ status: 500, message: 'down', count: 2 });
  assert.deepEqual(state.current(), { status: 500, message: 'down', count: 2 });
  assert.deepEqual(state.take({ message: 'mine' }), { status: 500, message: 'mine' });
  assert.deepEqual(state.take(NO_FAULTS), { status: 500, message: 'down' });
  assert.equal(state.take(NO_FAULTS), NO_FAULTS);
  assert.deepEqual(state.current(), {});
});

test('server-wide faults without count stay until cleared with {}', () => {
  const state = new FaultState();
  state.set({ ttft_ms: 5 });
  for (let i = 0; i < 3; i++) assert.deepEqual(state.take(NO_FAULTS), { ttft_ms: 5 });
  state.set({});
  assert.equal(state.take(NO_FAULTS), NO_FAULTS);
});

test('error formats: vLLM integer code, OpenAI string code, flat, platform and HTML', () => {
  assert.deepEqual(JSON.parse(renderError('vllm', 400, 'bad', 'messages').text), {
    error: { message: 'bad', type: 'BadRequestError', param: 'messages', code: 400 },
  });
  assert.deepEqual(JSON.parse(renderError('vllm', 404, 'x').text).error.type, 'NotFoundError');
  assert.deepEqual(JSON.parse(renderError('vllm', 500, 'x').text).error.type, 'InternalServerError');
  assert.deepEqual(JSON.parse(renderError('openai', 429, 'slow').text), {
    error: { message: 'slow', type: 'requests', param: null, code: 'rate_limit_exceeded' },
  });
  assert.deepEqual(JSON.parse(renderError('flat', 503, 'busy').text), { object: 'error', message: 'busy', type: 'ServiceUnavailableError', param: null, code: 503 });
  assert.deepEqual(JSON.parse(renderError('platform', 429, 'limit').text), { code: 429, msg: 'limit' });
  const html = renderError('html', 502, 'hidden');
  assert.match(html.contentType, /^text\/html/);
  assert.match(html.text, /<title>502 Bad Gateway<\/title>/);
});
