import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeResponse } from './normalize.ts';
import { base64ToFloats } from './embedding-encoding.ts';
import type { ResponseContext } from './response-context.ts';

const base: ResponseContext = { endpoint: 'chat', publicModel: 'Public', request: { messages: [{ role: 'user', content: 'hi' }] }, includeUsage: false, wantsBase64: false, upstreamModel: 'up', usageHint: { reportsStreamUsage: false } };

test('an answer that already fits is left untouched (passed through as bytes)', () => {
  const doc = { model: 'Public', choices: [{ message: { content: 'x' } }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } };
  const result = normalizeResponse(base, doc);
  assert.equal(result.changed, false);
  assert.equal(result.usage.completionTokens, 1);
});

test('renames the model, mirrors reasoning and fills in missing usage', () => {
  const doc: Record<string, unknown> = { model: 'up', choices: [{ message: { content: ' the cat', reasoning: 'hmm' } }] };
  const result = normalizeResponse(base, doc);
  assert.equal(result.changed, true);
  assert.equal(doc.model, 'Public');
  const message = (doc.choices as Array<{ message: Record<string, unknown> }>)[0]!.message;
  assert.equal(message.reasoning_content, 'hmm');
  assert.equal(result.usage.reported, false);
  assert.deepEqual(Object.keys(doc.usage as object), ['prompt_tokens', 'completion_tokens', 'total_tokens']);
});

test('encodes float embeddings as little-endian float32 base64 when the client wants base64', () => {
  const vector = [0.5, -0.25, 0.125];
  const doc: Record<string, unknown> = { model: 'Public', data: [{ embedding: vector }], usage: { prompt_tokens: 1, total_tokens: 1 } };
  normalizeResponse({ ...base, endpoint: 'embeddings', wantsBase64: true, request: { input: 'x' } }, doc);
  const encoded = (doc.data as Array<{ embedding: string }>)[0]!.embedding;
  assert.equal(typeof encoded, 'string');
  assert.deepEqual(base64ToFloats(encoded), vector);
});
