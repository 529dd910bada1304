import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimatePromptTokens, impliedOutputCap, maxOutputTokens } from './limits.ts';

test('the most a request may generate: cap per choice × choices × prompts; embeddings generate nothing', () => {
  assert.equal(maxOutputTokens('chat', { max_tokens: 100 }, undefined), 100);
  assert.equal(maxOutputTokens('chat', { max_completion_tokens: 50, max_tokens: 100, n: 3 }, undefined), 150);
  assert.equal(maxOutputTokens('chat', {}, 4096), 4096, "the model's cap when the request names none");
  assert.equal(maxOutputTokens('chat', {}, undefined), 2048, 'else the default');
  assert.equal(maxOutputTokens('completions', { prompt: ['a', 'b', 'c'], max_tokens: 10, n: 2 }, undefined), 60);
  assert.equal(maxOutputTokens('completions', { prompt: 'a', max_tokens: 10, n: 1, best_of: 4 }, undefined), 40, 'best_of is generated and billed');
  assert.equal(maxOutputTokens('completions', { prompt: [1, 2, 3], max_tokens: 10 }, undefined), 10, 'one token-id prompt');
  assert.equal(maxOutputTokens('completions', { prompt: [[1, 2], [3]], max_tokens: 10 }, undefined), 20, 'two token-id prompts');
  assert.equal(maxOutputTokens('embeddings', { input: 'x' }, undefined), 0);
});

test('token ids are counted, not estimated from their bytes', () => {
  const ids = Array.from({ length: 3000 }, (_, i) => i % 10);
  const bytes = JSON.stringify({ model: 'm', prompt: ids }).length; // ~2 bytes per id: bytes/3 would miss a third
  assert.equal(estimatePromptTokens('completions', { prompt: ids }, bytes), 3000);
  assert.equal(estimatePromptTokens('embeddings', { input: [ids, ids] }, bytes * 2), 6000);
  assert.equal(estimatePromptTokens('chat', { messages: [] }, 300), 100);
});

test('a request without an output cap implies the one its hold assumed', () => {
  assert.equal(impliedOutputCap('chat', { messages: [] }, 512), 512);
  assert.equal(impliedOutputCap('completions', { prompt: 'x' }, undefined), 2048);
  assert.equal(impliedOutputCap('chat', { max_completion_tokens: 7 }, 512), undefined, 'a cap of its own stays the only one');
  assert.equal(impliedOutputCap('embeddings', { input: 'x' }, undefined), undefined);
});

test('best_of counts on completions only (elsewhere it is an unchecked extra field)', () => {
  assert.equal(maxOutputTokens('chat', { best_of: 1.3 }, undefined), 2048);
  assert.equal(maxOutputTokens('completions', { prompt: ['a', 'b'], max_tokens: 10, n: 2, best_of: 3 }, undefined), 60);
});
