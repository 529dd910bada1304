import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../../errors/gateway-error.ts';
import { paramName, validateRequest } from './validate.ts';

const chat = (extra: Record<string, unknown>) => ({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra });

function rejects(fn: () => unknown, param: string | null): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof GatewayError);
    assert.equal(err.code, 'invalid_request');
    assert.equal(err.status, 400);
    assert.equal(err.param, param);
    return true;
  });
}

test('accepts a plain chat request with vendor extras and multimodal parts', () => {
  const body = chat({
    top_k: 20,
    stop_token_ids: [1, 2],
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
      { role: 'assistant', content: null, reasoning_content: 'thought', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c', content: 'ok' },
    ],
  });
  assert.equal(validateRequest('chat', body), body);
});

test('names the field of each out-of-range or missing value', () => {
  rejects(() => validateRequest('chat', chat({ temperature: 3 })), 'temperature');
  rejects(() => validateRequest('chat', chat({ max_tokens: 0 })), 'max_tokens');
  rejects(() => validateRequest('chat', chat({ n: 0 })), 'n');
  rejects(() => validateRequest('chat', chat({ presence_penalty: 5 })), 'presence_penalty');
  rejects(() => validateRequest('chat', chat({ stop: ['a', 'b', 'c', 'd', 'e'] })), 'stop');
  rejects(() => validateRequest('chat', chat({ temperature: 'hot' })), 'temperature');
  rejects(() => validateRequest('chat', { messages: [{ role: 'user', content: 'x' }] }), 'model');
  rejects(() => validateRequest('chat', { model: 'm', messages: [] }), 'messages');
  rejects(() => validateRequest('chat', { model: 'm' }), 'messages');
  rejects(() => validateRequest('chat', chat({ messages: [{ role: 'wizard', content: 'x' }] })), 'messages[0].role');
});

test('enforces cross-field rules', () => {
  rejects(() => validateRequest('chat', chat({ top_logprobs: 2 })), 'top_logprobs');
  rejects(() => validateRequest('chat', chat({ stream_options: { include_usage: true } })), 'stream_options');
  rejects(() => validateRequest('chat', chat({ tool_choice: 'required' })), 'tool_choice');
  rejects(
    () => validateRequest('chat', chat({ tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name: 'g' } } })),
    'tool_choice',
  );
  rejects(() => validateRequest('chat', chat({ messages: [{ role: 'tool', content: 'x' }] })), 'messages[0].tool_call_id');
  rejects(() => validateRequest('completions', { model: 'm', prompt: 'x', stream: true, best_of: 2 }), 'best_of');
});

test('validates embeddings input', () => {
  rejects(() => validateRequest('embeddings', { model: 'e', input: '' }), 'input');
  rejects(() => validateRequest('embeddings', { model: 'e', input: 'x', encoding_format: 'hex' }), 'encoding_format');
  validateRequest('embeddings', { model: 'e', input: [[1, 2], [3]] });
});

test('a path model makes the body model optional and wins over it', () => {
  const body = validateRequest('chat', { model: 'other', messages: [{ role: 'user', content: 'x' }] }, 'path-model');
  assert.equal(body.model, 'path-model');
});

test('rejects non-object bodies', () => {
  rejects(() => validateRequest('chat', [1, 2]), null);
  rejects(() => validateRequest('chat', 'text'), null);
});

test('paramName renders JSON pointers the way OpenAI names params', () => {
  assert.equal(paramName('/messages/0/content'), 'messages[0].content');
  assert.equal(paramName('/temperature'), 'temperature');
  assert.equal(paramName(''), null);
});

test('a value that fails a `T | null` or `T | T[]` field is described by the member it meant, not as "union value"', () => {
  const message = (endpoint: 'chat' | 'embeddings', extra: Record<string, unknown>): string => {
    const body = endpoint === 'chat' ? { model: 'm', messages: [{ role: 'user', content: 'x' }], ...extra } : { model: 'm', ...extra };
    try {
      validateRequest(endpoint, body);
    } catch (err) {
      return (err as Error).message;
    }
    return 'accepted';
  };
  assert.equal(message('chat', { temperature: 3 }), "Invalid value for 'temperature': expected number to be less or equal to 2.");
  assert.equal(message('chat', { n: 0 }), "Invalid value for 'n': expected integer to be greater or equal to 1.");
  assert.equal(message('chat', { stop: ['a', 'b', 'c', 'd', 'e'] }), "Invalid value for 'stop': expected array length to be less or equal to 4.");
  assert.equal(message('chat', { stream: 'true' }), "Invalid value for 'stream': expected boolean.");
  assert.equal(message('embeddings', { input: '' }), "Invalid value for 'input': expected string length greater or equal to 1.");
  assert.equal(message('chat', { response_format: { type: 'bogus' } }), 'Invalid value for \'response_format.type\': expected one of "text", "json_object", "json_schema".');
  assert.equal(message('chat', { response_format: { type: 'json_schema' } }), "Missing required parameter: 'response_format.json_schema'.");
  assert.equal(message('chat', { tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'maybe' }), 'Invalid value for \'tool_choice\': expected one of "none", "auto", "required".');
});
